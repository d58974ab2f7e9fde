// Runs a command (npm test's test runner) with one PostgreSQL cluster for all of it: every test
// file makes its databases in that cluster (AIRLOCK_TEST_POSTGRES_URL) instead of running initdb
// and a server of its own, which cost each of the ~30 files that use PostgreSQL about a second of
// CPU and a few before its first test. The cluster goes when this process ends, however it ends
// (see postgres.ts). Without PostgreSQL binaries, or with AIRLOCK_TEST_POSTGRES_URL set, the
// command runs as it is.
//   node --import tsx test/support/with-postgres.ts <command> [args...]
import { spawn } from "node:child_process";
import { sharedPostgres } from "./postgres.js";

const [command, ...args] = process.argv.slice(2);
if (!command) {
  process.stderr.write("usage: with-postgres.ts <command> [args...]\n");
  process.exit(2);
}
const server = await sharedPostgres();
const env = server
  ? {
      ...process.env,
      AIRLOCK_TEST_POSTGRES_URL: server.url,
      AIRLOCK_TEST_POSTGRES_PASSWORD: server.password,
    }
  : process.env;
const child = spawn(command, args, { stdio: "inherit", env });
// Ctrl-C reaches the whole foreground group; a TERM sent to this process alone is passed on.
process.on("SIGINT", () => {});
process.on("SIGTERM", () => child.kill("SIGTERM"));
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
