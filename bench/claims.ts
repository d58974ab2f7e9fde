// What a bound shared across replicas costs: two gateways' stores on one PostgreSQL drain the
// same outbox (four senders each, each send a claim and a completion), once with the plain claim
// and once with the claim that counts each installation's items in flight on every gateway (which
// takes turns under an advisory lock), in the same run, on fresh databases.
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { type OpenedStore, openStore } from "../src/store/index.js";
import { postgres } from "../test/support/postgres.js";
import type { BenchResult } from "./types.js";

const ITEMS = 600;
const INSTALLATIONS = 4;
const SENDERS = 4;

/** Items claimed and completed per second by two stores' senders. */
async function drain(url: string, password: string, perInstallation?: number): Promise<number> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "airlock-bench-claims-"));
  const stores: OpenedStore[] = [];
  try {
    for (let i = 0; i < 2; i++)
      stores.push(await openStore({ dataDir: dir, database: { url, password } }));
    const now = Date.now();
    for (let i = 0; i < ITEMS; i++) {
      await stores[0]!.outbox.enqueue(
        {
          kind: "comment",
          key: `k${i}`,
          orderingKey: `k${i}`,
          repo: "o/r",
          installationId: 1 + (i % INSTALLATIONS),
          payload: {},
        },
        now,
      );
    }
    let done = 0;
    const sender = async (s: OpenedStore) => {
      for (;;) {
        const item = await s.outbox.claimNext(Date.now(), perInstallation);
        if (!item) {
          if (done >= ITEMS) return;
          await new Promise((r) => setTimeout(r, 1));
          continue;
        }
        await s.outbox.complete(item.seq);
        done++;
      }
    };
    const t0 = performance.now();
    await Promise.all(stores.flatMap((s) => Array.from({ length: SENDERS }, () => sender(s))));
    return ITEMS / ((performance.now() - t0) / 1000);
  } finally {
    for (const s of stores) await s.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export default async function claimsBench(): Promise<BenchResult> {
  const bench = "outbox claims shared by two gateways on PostgreSQL";
  const pg = await postgres({ durable: true }).catch(() => undefined);
  if (!pg)
    return { bench, rows: [], notes: ["not measured: no PostgreSQL binaries on this machine"] };
  // Taken in turns, twice each, the best of each kept: the first run also warms the cluster.
  let plain = 0;
  let counted = 0;
  for (let round = 0; round < 2; round++) {
    plain = Math.max(plain, await drain(await pg.createDatabase(), pg.password));
    counted = Math.max(counted, await drain(await pg.createDatabase(), pg.password, SENDERS));
  }
  return {
    bench,
    rows: [
      { name: "plain claim, items/s", value: plain, unit: "/s" },
      {
        name: `counted claim (${SENDERS} per installation), items/s`,
        value: counted,
        unit: "/s",
        ratio: { value: counted / plain, against: "plain claim" },
      },
    ],
    notes: [
      `${ITEMS} items of ${INSTALLATIONS} installations, ${SENDERS} senders in each of two stores (no GitHub: a claim and a completion per item); a fresh database per drain; each row the better of two drains, taken in turns`,
      "PostgreSQL: a local throwaway cluster with default fsync and synchronous_commit, over loopback TCP",
    ],
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  console.log(JSON.stringify(await claimsBench(), null, 2));
}
