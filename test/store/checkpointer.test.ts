// SQLite's WAL checkpoints off the event loop (a gateway's store): a worker thread copies what the
// WAL holds into the database file, so the connection that commits never stops to do it; closing
// the store ends the worker, and the last connection folds the WAL in.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { sql } from "kysely";
import { WRITER_CHECKPOINT_PAGES } from "../../src/store/engines/checkpointer.js";
import { openStore } from "../../src/store/index.js";
import { PATIENCE_MS } from "../support/patience.js";

const payload = JSON.stringify({ text: "x".repeat(20_000) });

async function fill(store: Awaited<ReturnType<typeof openStore>>, n: number, prefix: string) {
  const answers = await Promise.all(
    Array.from({ length: n }, (_, i) =>
      store.events.insert({ deliveryId: `${prefix}-${i}`, name: "ping", action: null, payload }),
    ),
  );
  assert.ok(answers.every((a) => a === "stored"));
}

/** Waits until `cond` holds; a hang is reported after PATIENCE_MS. */
async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + PATIENCE_MS;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`never happened: ${what}`);
    await sleep(20);
  }
}

test("a gateway's store has a worker thread checkpoint the WAL, not the committing connection", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "airlock-ckpt-"));
  const file = path.join(dir, "airlock.db");
  const store = await openStore({ dataDir: dir, offThreadCheckpoints: true });
  try {
    const [row] = (await sql<{ n: number }>`PRAGMA wal_autocheckpoint`.execute(store.db)).rows;
    assert.equal(
      Object.values(row ?? {})[0],
      WRITER_CHECKPOINT_PAGES,
      "the writer checkpoints late",
    );
    const before = statSync(file).size;
    // About 2,000 pages: past SQLite's default checkpoint, far below the writer's own.
    await fill(store, 300, "d");
    await until(() => statSync(file).size > before + 300 * 20_000, "the pages reach the file");
    assert.equal((await store.events.list()).length, 300);
  } finally {
    await store.close();
  }
  // The worker's connection closed too, so the store's was the last: the WAL is folded in, gone.
  assert.equal(existsSync(`${file}-wal`), false, "no WAL left after close");
  rmSync(dir, { recursive: true, force: true });
});

test("other stores (the CLI's) keep SQLite's own checkpoints and start no thread", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "airlock-ckpt-"));
  const file = path.join(dir, "airlock.db");
  const store = await openStore({ dataDir: dir });
  try {
    const [row] = (await sql<{ n: number }>`PRAGMA wal_autocheckpoint`.execute(store.db)).rows;
    assert.equal(Object.values(row ?? {})[0], 1000);
    const before = statSync(file).size;
    await fill(store, 300, "c");
    assert.ok(statSync(file).size > before + 300 * 20_000, "checkpointed as it committed");
  } finally {
    await store.close();
  }
  rmSync(dir, { recursive: true, force: true });
});
