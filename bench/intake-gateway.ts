// The gateway of the intake RSS rows, as a process of its own so that its resident memory is its
// own: intake, the processing loop (a handler that does nothing) and the periodic prune, on a
// fresh data directory's SQLite. Prints its webhook URL; SIGTERM stops it.
import { startGateway } from "../src/cli/commands/serve.js";
import { DEFAULT_RETENTION } from "../src/gateway/retention.js";

const [dataDir, secret] = process.argv.slice(2) as [string, string];
const gw = await startGateway({
  webhookSecrets: [secret],
  dataDir,
  listen: { host: "127.0.0.1", port: 0 },
  handler: async () => {},
  retention: DEFAULT_RETENTION,
});
process.stdout.write(`${gw.url}/webhooks/github\n`);
process.on("SIGTERM", () => void gw.close().then(() => process.exit(0)));
