// Webhook intake: signed pull_request deliveries per second, verified and persisted (stored in
// SQLite before the 202), sent by a separate load-generating process over loopback; beside a bare
// fastify route that only answers 204 to the same requests, measured in the same run.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import Fastify from "fastify";
import { startGateway } from "../src/cli/commands/serve.js";
import type { LoadOptions, LoadResult } from "./intake-load.js";
import type { BenchResult } from "./types.js";

const LOAD = path.join(path.dirname(fileURLToPath(import.meta.url)), "intake-load.ts");
const SECRET = "bench-webhook-secret";

async function load(url: string, o: Omit<LoadOptions, "url" | "secret">): Promise<LoadResult> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ["--import", "tsx", LOAD, JSON.stringify({ ...o, url, secret: SECRET })],
    { maxBuffer: 1 << 20 },
  );
  return JSON.parse(stdout) as LoadResult;
}

async function bareServer() {
  const app = Fastify({ logger: false });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("application/json", { parseAs: "buffer" }, (_r, b, done) =>
    done(null, b),
  );
  app.post("/webhooks/github", async (_req, reply) => reply.code(204).send());
  const url = await app.listen({ host: "127.0.0.1", port: 0 });
  return { url: `${url}/webhooks/github`, close: () => app.close() };
}

export default async function intakeBench(): Promise<BenchResult> {
  const shape = { connections: 4, count: 6000, seconds: 4, warmup: 300 };
  const dir = mkdtempSync(path.join(os.tmpdir(), "airlock-bench-intake-"));
  const bare = await bareServer();
  const gw = await startGateway({
    webhookSecrets: [SECRET],
    dataDir: dir,
    listen: { host: "127.0.0.1", port: 0 },
    // The processing loop runs as in `airlock serve`, with a handler that does nothing.
    handler: async () => {},
  });
  try {
    const baseline = await load(bare.url, shape);
    const intake = await load(`${gw.url}/webhooks/github`, shape);
    await gw.loop.idle();
    const stored = gw.events.list().length;
    if (intake.errors > 0 || stored !== intake.ok) {
      throw new Error(
        `intake bench: ${intake.errors} failed deliveries, ${stored} stored of ${intake.ok} acknowledged (${JSON.stringify(intake.statuses)})`,
      );
    }
    const ratio = (v: number, b: number, against: string) => ({ value: v / b, against });
    return {
      bench: "webhook intake (signed pull_request, verify + parse + persist)",
      rows: [
        {
          name: "intake deliveries/s",
          value: intake.perSecond,
          unit: "/s",
          ratio: ratio(intake.perSecond, baseline.perSecond, "bare 204 route"),
        },
        { name: "intake p50 latency", value: intake.p50Ms, unit: "ms" },
        {
          name: "intake p99 latency",
          value: intake.p99Ms,
          unit: "ms",
          ratio: ratio(intake.p99Ms, baseline.p99Ms, "bare 204 route"),
        },
        { name: "bare fastify 204 route requests/s", value: baseline.perSecond, unit: "/s" },
        { name: "bare fastify 204 route p50 latency", value: baseline.p50Ms, unit: "ms" },
        { name: "bare fastify 204 route p99 latency", value: baseline.p99Ms, unit: "ms" },
      ],
      notes: [
        `${shape.connections} keep-alive connections from a separate process, ${intake.sent - shape.warmup} measured deliveries of ${(intake.bodyBytes / 1024).toFixed(1)} KiB each after ${shape.warmup} warm-up; ${stored} stored, all processed by the loop`,
        "target: ≥ 2,000 deliveries/s and p99 < 20 ms on 2 cores (server, load generator and processing loop share them)",
      ],
    };
  } finally {
    await bare.close();
    await gw.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const r = await intakeBench();
  console.log(JSON.stringify(r, null, 2));
}
