// Load generator for the intake benchmark, run as its own process so that it does not share an
// event loop with the server. Sends signed pull_request deliveries with unique delivery ids over
// a few keep-alive connections to 127.0.0.1, bounded by count and time, and prints one JSON line.
import { randomUUID } from "node:crypto";
import http from "node:http";
import examples from "@octokit/webhooks-examples";
import { sign } from "@octokit/webhooks-methods";

export interface LoadOptions {
  url: string;
  secret: string;
  connections: number;
  count: number;
  seconds: number;
  /** Requests at the start that are not measured. */
  warmup: number;
}

export interface LoadResult {
  sent: number;
  bodyBytes: number;
  ok: number;
  errors: number;
  statuses: Record<string, number>;
  seconds: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function run(o: LoadOptions): Promise<LoadResult> {
  const target = new URL(o.url);
  if (target.hostname !== "127.0.0.1") throw new Error("the load generator only targets 127.0.0.1");
  // The package's typings describe a default export its JSON does not have.
  const defs = examples as unknown as { name: string; examples: { action?: string }[] }[];
  const payload = defs
    .find((e) => e.name === "pull_request")!
    .examples.find((p) => p.action === "synchronize")!;
  const body = Buffer.from(JSON.stringify(payload));
  const signature = await sign(o.secret, body.toString());
  const agent = new http.Agent({ keepAlive: true, maxSockets: o.connections });

  const send = () =>
    new Promise<number>((resolve) => {
      const req = http.request(
        {
          host: target.hostname,
          port: target.port,
          path: target.pathname,
          method: "POST",
          agent,
          headers: {
            "content-type": "application/json",
            "content-length": body.length,
            "x-github-event": "pull_request",
            "x-github-delivery": randomUUID(),
            "x-hub-signature-256": signature,
            "user-agent": "GitHub-Hookshot/bench",
          },
        },
        (res) => {
          res.resume();
          res.on("end", () => resolve(res.statusCode ?? 0));
        },
      );
      req.on("error", () => resolve(0));
      req.end(body);
    });

  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let issued = 0;
  let measuredStart = 0;
  let measuredEnd = 0;
  const deadline = performance.now() + o.seconds * 1000;
  const worker = async () => {
    while (issued < o.count + o.warmup && performance.now() < deadline) {
      const n = issued++;
      if (n === o.warmup) measuredStart = performance.now();
      const t0 = performance.now();
      const status = await send();
      const t1 = performance.now();
      statuses[status] = (statuses[status] ?? 0) + 1;
      if (n >= o.warmup) {
        latencies.push(t1 - t0);
        measuredEnd = t1;
      }
    }
  };
  await Promise.all(Array.from({ length: o.connections }, worker));
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const seconds = (measuredEnd - measuredStart) / 1000;
  const ok = Object.entries(statuses)
    .filter(([s]) => Number(s) >= 200 && Number(s) < 300)
    .reduce((n, [, c]) => n + c, 0);
  return {
    sent: issued,
    bodyBytes: body.length,
    ok,
    errors: issued - ok,
    statuses,
    seconds,
    perSecond: latencies.length / seconds,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
  };
}

const opts = JSON.parse(process.argv[2] ?? "{}") as LoadOptions;
process.stdout.write(`${JSON.stringify(await run(opts))}\n`);
