// Intake across replicas: signed pull_request deliveries per second into one and into two gateway
// processes on one PostgreSQL (each with its processing loop, a handler that does nothing), beside
// the bare fastify route, in the same run. With two replicas, one load generator per replica runs
// at once (a round-robin front, as a load balancer spreads connections). Each run ends when every
// delivery is stored and processed: events are processed one at a time across all gateways, in
// arrival order, so "processed/s" is the cost of the claims' coordination. On 2 cores the replicas
// share the same cores: the point is what coordination costs, not a speed-up.
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { openStore } from "../src/store/index.js";
import { DATABASE_ENV } from "../src/store/settings.js";
import { postgres } from "../test/support/postgres.js";
import { type GatewayProcess, spawnGateway } from "./gateway-process.js";
import { bareServer, load } from "./intake.js";
import type { LoadResult } from "./intake-load.js";
import type { BenchResult, BenchRow } from "./types.js";

const SECRET = "bench-webhook-secret";
const shape = { connections: 4, count: 4000, seconds: 4, warmup: 200 };

interface Measured {
  perSecond: number;
  p99Ms: number;
  processedPerSecond: number;
}

/** `n` replicas on a fresh database: intake rate, p99, and deliveries processed per second. */
async function replicas(n: number, url: string, password: string): Promise<Measured> {
  const dirs = Array.from({ length: n }, () =>
    mkdtempSync(path.join(os.tmpdir(), "airlock-bench-replica-")),
  );
  const env = { [DATABASE_ENV.url]: url, [DATABASE_ENV.password]: password };
  const gws: GatewayProcess[] = [];
  const store = await openStore({ dataDir: dirs[0]!, database: { url, password } });
  try {
    for (const dir of dirs) gws.push(await spawnGateway(dir, SECRET, env));
    const t0 = performance.now();
    const results: LoadResult[] = await Promise.all(
      gws.map((gw) =>
        load(gw.url, {
          connections: shape.connections / n,
          count: shape.count / n,
          seconds: shape.seconds,
          warmup: shape.warmup / n,
        }),
      ),
    );
    const ok = results.reduce((s, r) => s + r.ok, 0);
    for (;;) {
      if ((await store.events.depth()) === 0) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const seconds = (performance.now() - t0) / 1000;
    const stored = (await store.events.list("done")).length;
    const errors = results.reduce((s, r) => s + r.errors, 0);
    if (errors > 0 || stored !== ok) {
      throw new Error(`replicas bench (${n}): ${errors} failed, ${stored} processed of ${ok}`);
    }
    return {
      perSecond: results.reduce((s, r) => s + r.perSecond, 0),
      p99Ms: Math.max(...results.map((r) => r.p99Ms)),
      processedPerSecond: ok / seconds,
    };
  } finally {
    await store.close();
    for (const gw of gws) await gw.stop();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  }
}

export default async function replicasBench(): Promise<BenchResult> {
  const pg = await postgres({ durable: true }).catch(() => undefined);
  if (!pg) {
    return {
      bench: "intake across replicas on PostgreSQL",
      rows: [],
      notes: ["not measured: no PostgreSQL binaries on this machine"],
    };
  }
  const bare = await bareServer();
  try {
    const baseline = await load(bare.url, shape);
    const one = await replicas(1, await pg.createDatabase(), pg.password);
    const two = await replicas(2, await pg.createDatabase(), pg.password);
    const vsBare = (v: number) => ({ value: v / baseline.perSecond, against: "bare 204 route" });
    const rows = (label: string, m: Measured): BenchRow[] => [
      {
        name: `intake, ${label} deliveries/s`,
        value: m.perSecond,
        unit: "/s",
        ratio: vsBare(m.perSecond),
      },
      { name: `intake, ${label} p99 latency`, value: m.p99Ms, unit: "ms" },
      {
        name: `stored and processed, ${label} deliveries/s`,
        value: m.processedPerSecond,
        unit: "/s",
        ratio: vsBare(m.processedPerSecond),
      },
    ];
    return {
      bench:
        "intake across replicas on PostgreSQL (signed pull_request, verify + persist + process)",
      rows: [
        ...rows("1 replica", one),
        ...rows("2 replicas", two),
        {
          name: "2 replicas against 1, intake",
          value: two.perSecond,
          unit: "/s",
          ratio: { value: two.perSecond / one.perSecond, against: "1 replica" },
        },
        {
          name: "2 replicas against 1, processed",
          value: two.processedPerSecond,
          unit: "/s",
          ratio: { value: two.processedPerSecond / one.processedPerSecond, against: "1 replica" },
        },
        { name: "bare fastify 204 route requests/s", value: baseline.perSecond, unit: "/s" },
      ],
      notes: [
        `${shape.connections} keep-alive connections in all (split between the replicas' load generators), ${shape.count} deliveries per run after ${shape.warmup} warm-up; each replica a gateway process of its own; a fresh database per run`,
        "PostgreSQL: a local throwaway cluster with default fsync and synchronous_commit, over loopback TCP",
        "processed/s: from the first delivery sent until every one is stored and processed by the loops (one event at a time across the gateways, in arrival order)",
      ],
    };
  } finally {
    await bare.close();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  console.log(JSON.stringify(await replicasBench(), null, 2));
}
