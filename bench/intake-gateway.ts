// The gateway of the intake RSS rows and of the replicas bench, as a process of its own so that its
// resident memory and event loop are its own: intake, the processing loop (a handler that does
// nothing) and the periodic prune, on a fresh data directory's SQLite or on the database the
// environment names (AIRLOCK_DATABASE_URL). Prints its webhook URL; SIGTERM stops it.
import { startGateway } from "../src/cli/commands/serve.js";
import { DEFAULT_RETENTION } from "../src/gateway/retention.js";
import { resolveDatabase } from "../src/store/settings.js";

const [dataDir, secret] = process.argv.slice(2) as [string, string];
const gw = await startGateway({
  webhookSecrets: [secret],
  dataDir,
  database: resolveDatabase({ env: process.env }),
  listen: { host: "127.0.0.1", port: 0 },
  handler: async () => {},
  retention: DEFAULT_RETENTION,
});
process.stdout.write(`${gw.url}/webhooks/github\n`);
process.on("SIGTERM", () => void gw.close().then(() => process.exit(0)));
