// Migrations on every engine: applied once, forward-only, and a database that a newer Airlock
// migrated is refused with a message that says what to do. On SQLite, the migrations that shipped
// still make exactly the schema they always made.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import SQLite from "better-sqlite3";
import { Kysely, Migrator, SqliteDialect, sql } from "kysely";
import { migrations } from "../../src/store/migrations/index.js";
import { openStore } from "../../src/store/open.js";
import { engines } from "../support/engines.js";

const here = path.dirname(fileURLToPath(import.meta.url));

for (const engine of await engines()) {
  describe(`migrations on ${engine.name}`, () => {
    it("a new database gets every migration; opening it again applies none", async () => {
      const t = await engine.open();
      try {
        const state = await t.store.schema();
        assert.deepEqual(state.pending, []);
        assert.deepEqual(state.unknown, []);
        assert.ok(state.applied.includes("001_runs"));
        assert.deepEqual(await t.store.migrate(), []);
      } finally {
        await t.close();
      }
    });

    it("a database migrated by a newer Airlock is refused, and left as it was", async () => {
      const t = await engine.open();
      try {
        await sql`INSERT INTO kysely_migration (name, timestamp) VALUES ('999_from_the_future', '2030-01-01T00:00:00.000Z')`.execute(
          t.store.db,
        );
        await assert.rejects(
          openStore({ dataDir: t.dataDir, database: t.database }),
          (e: Error) =>
            /migrated by a newer Airlock \(migration 999_from_the_future is unknown to this one\)/.test(
              e.message,
            ) && /restore a backup/.test(e.message),
        );
        assert.deepEqual((await t.store.schema()).unknown, ["999_from_the_future"]);
      } finally {
        await t.close();
      }
    });

    it("the audit log refuses changes and deletions in the database itself", async () => {
      const t = await engine.open();
      try {
        await t.store.audit.record({ action: "set", actor: "cli:alice", set: "s", key: "K" });
        await assert.rejects(
          sql`UPDATE audit SET actor = 'mallory'`.execute(t.store.db),
          /append-only/,
        );
        await assert.rejects(sql`DELETE FROM audit`.execute(t.store.db), /append-only/);
        assert.equal((await t.store.audit.list())[0]?.actor, "cli:alice");
      } finally {
        await t.close();
      }
    });
  });
}

describe("migrations on SQLite", () => {
  it("make exactly the schema that the shipped migrations always made", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "airlock-schema-"));
    const raw = new SQLite(path.join(dir, "airlock.db"));
    const db = new Kysely<unknown>({ dialect: new SqliteDialect({ database: raw }) });
    try {
      const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } });
      const { error } = await migrator.migrateTo("010_request_interruptions");
      assert.equal(error, undefined);
      const shipped = JSON.parse(
        readFileSync(path.join(here, "fixtures", "sqlite-schema-010.json"), "utf8"),
      ) as unknown[];
      const now = raw
        .prepare("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name")
        .all();
      assert.deepEqual(now, shipped);
    } finally {
      await db.destroy();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
