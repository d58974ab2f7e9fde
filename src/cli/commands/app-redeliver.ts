// `airlock app redeliver`: asks GitHub to send again the deliveries Airlock refused while it could
// not store them (it answered 503 and logged each one's id), or never received. GitHub does not
// retry on its own. It first checks that the gateway is ready (/readyz), so that a delivery is not
// sent back into the same failure.
import type { Command } from "commander";
import { AppAuth } from "../../forge/github/app-auth.js";
import { AppDeliveries, type HookDelivery, toRedeliver } from "../../forge/github/deliveries.js";
import { GitHubError } from "../../forge/github/errors.js";
import { GitHubHttp } from "../../forge/github/http.js";
import { settingDurationMs } from "../../gateway/serve-settings.js";
import { UserError } from "../errors.js";
import { loadConfig } from "./serve.js";

interface RedeliverOpts {
  since: string;
  url?: string;
  dryRun?: boolean;
  config?: string;
  dir: string;
  dataDir?: string;
}

export interface RedeliverIo {
  stdout: { write(s: string): unknown };
  env: NodeJS.ProcessEnv;
  fetch?: typeof fetch;
}

/** Where the running gateway answers: its listen address, on loopback when it listens on all. */
function gatewayUrl(listen: { host: string; port: number }): string {
  const host = ["0.0.0.0", "::", ""].includes(listen.host) ? "127.0.0.1" : listen.host;
  return `http://${host.includes(":") ? `[${host}]` : host}:${listen.port}`;
}

async function ready(url: string, fetchImpl: typeof fetch): Promise<string | null> {
  try {
    const res = await fetchImpl(`${url.replace(/\/+$/, "")}/readyz`);
    if (res.ok) return null;
    const body = (await res.json().catch(() => ({}))) as { problems?: string[] };
    return body.problems?.join("; ") || `it answered ${res.status}`;
  } catch (e) {
    return `no answer (${e instanceof Error ? e.message : String(e)})`;
  }
}

const describe = (d: HookDelivery) =>
  `${d.guid} (${d.event}${d.action ? `.${d.action}` : ""}, ${d.status_code || "no answer"} ${d.status} at ${d.delivered_at})`;

export function registerRedeliver(app: Command, io: () => RedeliverIo): void {
  app
    .command("redeliver")
    .description(
      "Ask GitHub to send again the deliveries Airlock refused (503) or never received, once it is ready",
    )
    .argument(
      "[delivery...]",
      "X-GitHub-Delivery ids (as Airlock logged them); default: every failed one",
    )
    .option("--since <duration>", "look at deliveries this recent", "24h")
    .option("--url <url>", "the gateway to check first (default: its listen address)")
    .option("--dry-run", "list what would be sent again, and send nothing")
    .option("-c, --config <file>", "serve config (YAML or JSON); the environment overrides it")
    .option("-C, --dir <dir>", "the project directory, as for `airlock serve`", ".")
    .option("--data-dir <dir>", "the data directory (default: $AIRLOCK_HOME or <project>/.airlock)")
    .action(async (ids: string[], opts: RedeliverOpts) => {
      const { stdout, env, fetch: fetchImpl = fetch } = io();
      const sinceMs = settingDurationMs(opts.since);
      if (sinceMs === null || sinceMs === 0) {
        throw new UserError(`--since ${opts.since}: give a duration such as "6h" or "3d"`);
      }
      const config = loadConfig(opts, env);
      if (config.embedded) {
        throw new UserError(
          "no GitHub App is configured: set its id, private key and webhook secret (docs/github-app.md)",
        );
      }
      const url = opts.url ?? gatewayUrl(config.listen);
      if (!opts.dryRun) {
        const why = await ready(url, fetchImpl);
        if (why) {
          throw new UserError(
            `Airlock at ${url} is not ready (${why}): deliveries sent now would be refused again. Fix that first (GET /readyz says what is wrong), then run this again`,
          );
        }
      }
      const http = new GitHubHttp({ baseUrl: config.apiUrl, fetch: fetchImpl });
      const deliveries = new AppDeliveries(
        http,
        new AppAuth(http, config.appId, config.privateKey),
      );
      let attempts: HookDelivery[];
      try {
        attempts = await deliveries.since(Date.now() - sinceMs);
      } catch (e) {
        if (e instanceof GitHubError)
          throw new UserError(`listing the App's deliveries: ${e.message}`);
        throw e;
      }
      const named = ids.length > 0 ? new Set(ids) : undefined;
      const chosen = toRedeliver(attempts, named);
      const missing = ids.filter((id) => !attempts.some((d) => d.guid === id));
      for (const id of missing) {
        stdout.write(
          `not found among the App's deliveries of the last ${opts.since}: ${id} (widen --since)\n`,
        );
      }
      if (chosen.length === 0) {
        stdout.write(
          `nothing to send again among ${attempts.length} deliveries of the last ${opts.since}\n`,
        );
        if (missing.length > 0) process.exitCode = 1;
        return;
      }
      let failed = missing.length;
      for (const d of chosen) {
        if (opts.dryRun) {
          stdout.write(`would send again: ${describe(d)}\n`);
          continue;
        }
        try {
          await deliveries.redeliver(d.id);
          stdout.write(`sent again: ${describe(d)}\n`);
        } catch (e) {
          failed++;
          stdout.write(
            `could not send again ${d.guid}: ${e instanceof Error ? e.message : String(e)}\n`,
          );
        }
      }
      if (failed > 0) process.exitCode = 1;
    });
}
