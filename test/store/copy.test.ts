// Copying a database to another engine: every row of every table arrives, counted and
// checksummed, sealed secrets byte for byte; a non-empty target is refused; the target's own
// counters go on after the copied rows.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { type Kysely, sql } from "kysely";
import { CopyError, copyDatabase, TABLES } from "../../src/store/copy.js";
import type { Database } from "../../src/store/schema.js";
import type { Store } from "../../src/store/types.js";
import { engines } from "../support/engines.js";

/** At least one row in every table. */
async function fill(s: Store): Promise<void> {
  await s.runs.create({ id: "run-1", source: "local", repo: "o/r", ref: "main", sha: "1" }, [
    { jobId: "build", template: "build", needs: [], secrets: ["s"], state: "pending", reason: "" },
  ]);
  await s.secrets.insertKeyring({
    id: "k1",
    master_id: "m1",
    nonce: randomBytes(12),
    wrapped: randomBytes(48),
    active: 1,
    created_at: 1,
  });
  const key = { set_name: "s", key: "K", current: 1, next_version: 2, keep: 5, file: 0 };
  await s.secrets.upsertKey({ ...key, created_at: 1, updated_at: 1, rotated_at: null });
  await s.secrets.insertValue({
    set_name: "s",
    key: "K",
    version: 1,
    key_id: "k1",
    nonce: randomBytes(12),
    ciphertext: randomBytes(64),
    created_at: 1,
  });
  await s.events.insert({ deliveryId: "d1", name: "ping", action: null, payload: "{}" });
  await s.outbox.enqueue({
    kind: "comment",
    key: "c1",
    orderingKey: "c",
    repo: "o/r",
    installationId: 1,
    payload: { body: "hi" },
  });
  await s.checkRuns.set("o/r", "1", "build", { id: 12_345_678_901, via: "checks" });
  await s.pauses.extend("github", 1_700_000_000_000, "rate limit");
  await s.approvals.setHead("o/r", 1, "1", "alice");
  await s.approvals.approve("o/r", 1, "1", "alice", "comment");
  await s.waits.wait({
    repo: "o/r",
    pr: 2,
    sha: "2",
    installationId: 1,
    baseSha: "0",
    author: "mallory",
    title: "t",
    view: { requirements: [], incomplete: false, paths: ["a"], pathCount: 1, waiting: ["f"] },
  });
  await s.waits.claimNotice("o/r", 2, "2", 99);
  await s.requests.insert({
    id: "req-1",
    repo: "o/r",
    pr: 1,
    installationId: 1,
    headSha: "1",
    baseSha: "0",
    headRef: "f",
    author: "bob",
    kind: "full",
    selection: null,
    requestedBy: "bob",
  });
  await s.labels.add("o/r", 1, "test-all", "alice");
  const { info } = await s.sessions.createToken({ name: "t", createdBy: "x", expiresAt: null });
  await s.sessions.createSession({ login: "x", via: "token", tokenId: info.id, ttlMs: 60_000 });
  await s.sessions.createLink(60_000);
  await s.audit.record({ action: "set", actor: "cli:alice", set: "s", key: "K", versions: [1] });
  // An OIDC signing key: its private part sealed like a value, copied as the bytes it is.
  await (s as unknown as { db: Kysely<Database> }).db
    .insertInto("oidc_keys")
    .values({
      kid: "kid-1",
      alg: "RS256",
      public_jwk: "{}",
      key_id: "k1",
      nonce: randomBytes(12),
      ciphertext: randomBytes(64),
      created_at: 1,
      activates_at: 1,
      signed_until: 0,
    })
    .execute();
  // A public job's place in the fair share.
  await (s as unknown as { db: Kysely<Database> }).db
    .insertInto("job_slots")
    .values({ run_id: "r-1", job_id: "unit", pr_key: "o/r#1", author: "carol", taken_at: 1 })
    .execute();
}

const all = await engines();
const [sqlite] = all;

for (const target of all) {
  describe(`copy from SQLite to ${target.name}`, () => {
    it("copies every table whole, and refuses to copy into a database that holds rows", async () => {
      const from = await sqlite!.open();
      const to = await target.open();
      try {
        await fill(from.store);
        const tables = await copyDatabase(from.store, to.store);
        assert.deepEqual(
          tables.map((t) => t.table),
          TABLES,
        );
        for (const t of tables) assert.ok(t.rows > 0, `${t.table} had rows to copy`);

        // The same records through the Store on the other side.
        const a = await from.store.secrets.allValues();
        const b = await to.store.secrets.allValues();
        assert.ok(Buffer.from(b[0]!.ciphertext).equals(Buffer.from(a[0]!.ciphertext)));
        assert.deepEqual(await to.store.audit.list(), await from.store.audit.list());
        assert.deepEqual(await to.store.runs.jobs("run-1"), await from.store.runs.jobs("run-1"));
        assert.equal((await to.store.checkRuns.get("o/r", "1", "build"))?.id, 12_345_678_901);

        // Counters continue after the copied rows.
        await to.store.audit.record({ action: "set", actor: "cli:bob" });
        const seqs = (await to.store.audit.list()).map((r) => r.seq);
        assert.equal(seqs[1], seqs[0]! + 1);

        await assert.rejects(
          copyDatabase(from.store, to.store),
          (e: Error) => e instanceof CopyError && /is not empty \(runs, jobs, /.test(e.message),
        );
      } finally {
        await from.close();
        await to.close();
      }
    });

    it("a copy whose rows do not arrive intact is not committed", async () => {
      const from = await sqlite!.open();
      const to = await target.open();
      try {
        await fill(from.store);
        // The target changes what it stores: the checksum differs, and nothing is kept.
        const db = to.store.db;
        if (target.name === "postgres") {
          await sql`CREATE FUNCTION upper_label() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN NEW.label := upper(NEW.label); RETURN NEW; END $$`.execute(db);
          await sql`CREATE TRIGGER labels_upper BEFORE INSERT ON pr_labels
            FOR EACH ROW EXECUTE FUNCTION upper_label()`.execute(db);
        } else {
          await sql`CREATE TRIGGER labels_upper AFTER INSERT ON pr_labels BEGIN
            UPDATE pr_labels SET label = upper(label) WHERE rowid = NEW.rowid; END`.execute(db);
        }
        await assert.rejects(
          copyDatabase(from.store, to.store),
          (e: Error) =>
            e instanceof CopyError && /^pr_labels: .*nothing was committed/.test(e.message),
        );
        assert.equal(await to.store.runs.get("run-1"), undefined);
      } finally {
        await from.close();
        await to.close();
      }
    });
  });
}
