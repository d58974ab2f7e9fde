// npm test's test runner: `node --test` over the test files compiled to JavaScript (compiled.ts),
// with one PostgreSQL cluster for the whole run.
// - Compiled: a test file over tsx spends a second or two of CPU loading the source it imports
//   through tsx's hooks thread, several times what the same modules cost as JavaScript; over the
//   ~190 files, a tenth of the suite's CPU time. Failures then point into the compiled copy
//   (node_modules/.cache/airlock-test-cli), which keeps each file's code as written.
// - PostgreSQL: every test file makes its databases in that cluster (AIRLOCK_TEST_POSTGRES_URL)
//   instead of running initdb and a server of its own, which cost each of the ~30 files that use
//   PostgreSQL about a second of CPU and a few before its first test. The cluster goes when this
//   process ends, however it ends (see postgres.ts). Without PostgreSQL binaries, or with
//   AIRLOCK_TEST_POSTGRES_URL set, the tests find their server as they do when run alone.
// - A file whose process outlives its tests by a minute is ended (exit-after-tests.ts).
//   node --import tsx test/support/run-tests.ts [node --test options] <test files...>
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { compiled } from "./compiled.js";
import { sharedPostgres } from "./postgres.js";

const args = process.argv.slice(2);
const options = args.filter((a) => a.startsWith("-"));
const files = args.filter((a) => !a.startsWith("-"));
if (files.length === 0 || files.some((f) => !f.endsWith(".ts"))) {
  process.stderr.write("usage: run-tests.ts [node --test options] <test files (.ts)...>\n");
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
const bound = compiled(fileURLToPath(new URL("./exit-after-tests.ts", import.meta.url)));
const child = spawn(
  process.execPath,
  ["--import", bound, "--test", ...options, ...files.map((f) => compiled(f))],
  {
    stdio: "inherit",
    env,
  },
);
// Ctrl-C reaches the whole foreground group; a TERM sent to this process alone is passed on.
process.on("SIGINT", () => {});
process.on("SIGTERM", () => child.kill("SIGTERM"));
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
