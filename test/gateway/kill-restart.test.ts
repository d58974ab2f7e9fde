// Durability, on every database engine: the gateway is SIGKILLed at random points while deliveries
// are in flight. After a restart every acknowledged delivery has been processed exactly once, and
// so has every stored one.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import path from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { openStore } from "../../src/store/index.js";
import { DATABASE_ENV } from "../../src/store/settings.js";
import { compiled } from "../support/compiled.js";
import { engines } from "../support/engines.js";
import { deliver, example } from "./helpers.js";

const SECRET = "kill-test-secret";
const CHILD = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  "fixtures",
  "gateway-child.ts",
);
const payload = example("pull_request", "synchronize");

async function startChild(
  dir: string,
  env: NodeJS.ProcessEnv,
): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [compiled(CHILD), dir, SECRET], {
    stdio: ["ignore", "pipe", "inherit"],
    env,
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const line = out.split("\n")[0];
      if (out.includes("\n") && line) resolve(line.trim());
    });
    child.once("exit", (code) => reject(new Error(`gateway child exited early (${code})`)));
  });
  return { child, url };
}

async function waitExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise((r) => child.once("exit", r));
}

for (const engine of await engines())
  describe(`on ${engine.name}`, () =>
    test("SIGKILL at random points: every acknowledged delivery is processed exactly once", {
      timeout: 5 * 60_000,
    }, async (t) => {
      const fresh = await engine.fresh();
      const dir = fresh.dataDir;
      // The database reaches the child through the environment, as it reaches airlock serve. On
      // PostgreSQL a killed gateway's claims are taken over once their lease runs out: 2 s rather
      // than the default 30 s, which the last start would otherwise wait out.
      const env = {
        ...process.env,
        ...(fresh.database?.url ? { [DATABASE_ENV.url]: fresh.database.url } : {}),
        ...(fresh.database?.password ? { [DATABASE_ENV.password]: fresh.database.password } : {}),
        [DATABASE_ENV.leaseTtl]: "2s",
      };
      const acked = new Set<string>();
      const sentIds: string[] = [];
      try {
        for (let round = 0; round < 4; round++) {
          const { child, url } = await startChild(dir, env);
          // The kill comes after a random number of new deliveries were acknowledged in this round
          // (a count, not a time: a busy machine acknowledges fewer per second), while the senders
          // keep deliveries and their processing in flight.
          const target = 5 + Math.floor(Math.random() * 10);
          let ackedThisRound = 0;
          let reached!: () => void;
          const enough = new Promise<void>((r) => {
            reached = r;
          });
          let stop = false;
          const senders = Array.from({ length: 4 }, async () => {
            while (!stop) {
              // Now and then a redelivery of an id sent earlier, possibly before a crash.
              const redeliver = sentIds.length > 0 && Math.random() < 0.2;
              const id = redeliver
                ? sentIds[Math.floor(Math.random() * sentIds.length)]!
                : randomUUID();
              if (!redeliver) sentIds.push(id);
              try {
                const res = await deliver(url, {
                  event: "pull_request",
                  payload,
                  id,
                  secret: SECRET,
                });
                if (res.status === 202 || res.status === 200) {
                  if (!acked.has(id) && ++ackedThisRound >= target) reached();
                  acked.add(id);
                } else assert.fail(`unexpected HTTP ${res.status}: ${res.body}`);
              } catch (e) {
                if (e instanceof assert.AssertionError) throw e;
                return; // connection cut by the kill: not acknowledged
              }
            }
          });
          // A sender that fails ends the round at once rather than waiting for acknowledgements.
          const failed = Promise.all(senders);
          await Promise.race([enough, failed]);
          // A random moment after that, within the processing of what is in flight.
          await new Promise((r) => setImmediate(r));
          for (let i = Math.floor(Math.random() * 20); i > 0; i--) {
            await new Promise((r) => setImmediate(r));
          }
          child.kill("SIGKILL");
          stop = true;
          await failed;
          await waitExit(child);
        }

        // A last, clean start drains what was stored but not processed.
        const { child, url } = await startChild(dir, env);
        // Bounded by the store's state: the queue is empty once every stored delivery was handled.
        for (;;) {
          const m = await (await fetch(`${url}/metrics`)).text();
          if (/airlock_events_queue_depth 0\b/.test(m)) break;
          await new Promise((r) => setTimeout(r, 50));
        }
        child.kill("SIGTERM");
        await waitExit(child);

        const db = await openStore({ dataDir: dir, database: fresh.database, migrate: false });
        const stored = (await db.events.list()).map((e) => ({
          delivery_id: e.deliveryId,
          state: e.state,
          attempts: e.attempts,
        }));
        const counts = new Map<string, number>();
        for (const r of await db.audit.list({ action: "test-processed" })) {
          counts.set(r.detail!, (counts.get(r.detail!) ?? 0) + 1);
        }
        await db.close();
        const resumed = stored.filter((r) => r.attempts > 1).length;
        t.diagnostic(
          `acknowledged ${acked.size}, stored ${stored.length}, resumed after a kill ${resumed}`,
        );

        // At least 5 new deliveries were acknowledged in each of the 4 rounds.
        assert.ok(acked.size >= 20, `only ${acked.size} deliveries were acknowledged`);
        const storedIds = new Set(stored.map((r) => r.delivery_id));
        for (const id of acked) {
          assert.ok(storedIds.has(id), `acknowledged delivery ${id} was stored`);
          assert.equal(counts.get(id), 1, `acknowledged delivery ${id} processed exactly once`);
        }
        for (const r of stored) {
          assert.equal(r.state, "done");
          assert.equal(
            counts.get(r.delivery_id),
            1,
            `stored delivery ${r.delivery_id} processed once`,
          );
        }
        for (const id of counts.keys()) assert.ok(storedIds.has(id));
      } finally {
        fresh.cleanup();
      }
    }));
