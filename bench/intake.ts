// Webhook intake: signed pull_request deliveries per second, verified and persisted (stored before
// the 202) in SQLite and, where the machine has it, in PostgreSQL (a throwaway cluster with its
// default durability settings); sent by a separate load-generating process over loopback; beside
// a bare fastify route that only answers 204 to the same requests, measured in the same run.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import Fastify from "fastify";
import { startGateway } from "../src/cli/commands/serve.js";
import type { DatabaseOptions } from "../src/store/index.js";
import { postgres } from "../test/support/postgres.js";
import type { LoadOptions, LoadResult } from "./intake-load.js";
import { rssRows } from "./intake-rss.js";
import type { BenchResult } from "./types.js";

const LOAD = path.join(path.dirname(fileURLToPath(import.meta.url)), "intake-load.ts");
const SECRET = "bench-webhook-secret";

export async function load(
  url: string,
  o: Omit<LoadOptions, "url" | "secret">,
): Promise<LoadResult> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ["--import", "tsx", LOAD, JSON.stringify({ ...o, url, secret: SECRET })],
    { maxBuffer: 1 << 20 },
  );
  return JSON.parse(stdout) as LoadResult;
}

export async function bareServer() {
  const app = Fastify({ logger: false });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("application/json", { parseAs: "buffer" }, (_r, b, done) =>
    done(null, b),
  );
  app.post("/webhooks/github", async (_req, reply) => reply.code(204).send());
  const url = await app.listen({ host: "127.0.0.1", port: 0 });
  return { url: `${url}/webhooks/github`, close: () => app.close() };
}

const shape = { connections: 4, count: 6000, seconds: 4, warmup: 300 };

/** Intake into one database: its throughput and latencies, after checking that all was stored. */
async function intakeInto(label: string, database: DatabaseOptions | undefined) {
  const dir = mkdtempSync(path.join(os.tmpdir(), "airlock-bench-intake-"));
  const gw = await startGateway({
    webhookSecrets: [SECRET],
    dataDir: dir,
    ...(database ? { database } : {}),
    listen: { host: "127.0.0.1", port: 0 },
    // The processing loop runs as in `airlock serve`, with a handler that does nothing.
    handler: async () => {},
  });
  try {
    const r = await load(`${gw.url}/webhooks/github`, shape);
    await gw.loop.idle();
    const stored = (await gw.events.list()).length;
    if (r.errors > 0 || stored !== r.ok) {
      throw new Error(
        `intake bench (${label}): ${r.errors} failed deliveries, ${stored} stored of ${r.ok} acknowledged (${JSON.stringify(r.statuses)})`,
      );
    }
    return { ...r, stored };
  } finally {
    await gw.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export default async function intakeBench(): Promise<BenchResult> {
  const bare = await bareServer();
  const pg = await postgres({ durable: true }).catch(() => undefined);
  try {
    const baseline = await load(bare.url, shape);
    const sqlite = await intakeInto("sqlite", undefined);
    const onPg = pg
      ? await intakeInto("postgres", { url: await pg.createDatabase(), password: pg.password })
      : undefined;
    const [atFirst, atLast] = await rssRows(load, SECRET);
    const ratio = (v: number, b: number, against: string) => ({ value: v / b, against });
    const rows = (label: string, r: Awaited<ReturnType<typeof intakeInto>>) => [
      {
        name: `intake (${label}) deliveries/s`,
        value: r.perSecond,
        unit: "/s",
        ratio: ratio(r.perSecond, baseline.perSecond, "bare 204 route"),
      },
      { name: `intake (${label}) p50 latency`, value: r.p50Ms, unit: "ms" },
      {
        name: `intake (${label}) p99 latency`,
        value: r.p99Ms,
        unit: "ms",
        ratio: ratio(r.p99Ms, baseline.p99Ms, "bare 204 route"),
      },
    ];
    return {
      bench: "webhook intake (signed pull_request, verify + parse + persist)",
      rows: [
        ...rows("SQLite", sqlite),
        ...(onPg ? rows("PostgreSQL", onPg) : []),
        {
          name: `gateway RSS after ${atFirst!.deliveries} deliveries`,
          value: atFirst!.mib,
          unit: "MiB",
        },
        {
          name: `gateway RSS after ${atLast!.deliveries} deliveries`,
          value: atLast!.mib,
          unit: "MiB",
          ratio: ratio(atLast!.mib, atFirst!.mib, `RSS after ${atFirst!.deliveries}`),
        },
        { name: "bare fastify 204 route requests/s", value: baseline.perSecond, unit: "/s" },
        { name: "bare fastify 204 route p50 latency", value: baseline.p50Ms, unit: "ms" },
        { name: "bare fastify 204 route p99 latency", value: baseline.p99Ms, unit: "ms" },
      ],
      notes: [
        `${shape.connections} keep-alive connections from a separate process, ${sqlite.sent - shape.warmup} measured deliveries of ${(sqlite.bodyBytes / 1024).toFixed(1)} KiB each after ${shape.warmup} warm-up, per database; all stored, all processed by the loop`,
        onPg
          ? "PostgreSQL: a local throwaway cluster (Debian's binaries) with default fsync and synchronous_commit, over loopback TCP"
          : "PostgreSQL: not measured (no PostgreSQL binaries on this machine)",
        "target: ≥ 2,000 deliveries/s and p99 < 20 ms on 2 cores (server, load generator and processing loop share them)",
        "RSS: one gateway process (SQLite, processing loop, periodic prune with the default retention) fed 50,000 deliveries; read from /proc after each mark; target: within 10 % of each other",
      ],
    };
  } finally {
    await bare.close();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const r = await intakeBench();
  console.log(JSON.stringify(r, null, 2));
}
