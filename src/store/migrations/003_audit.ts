import { type Kysely, sql } from "kysely";
import { columnTypes, isPostgres } from "./dialect.js";

export async function up(db: Kysely<unknown>): Promise<void> {
  const T = columnTypes(db);
  await db.schema
    .createTable("audit")
    .addColumn("seq", T.int, T.serial)
    .addColumn("at", T.int, (c) => c.notNull())
    .addColumn("actor", "text", (c) => c.notNull())
    .addColumn("action", "text", (c) => c.notNull())
    .addColumn("run_id", "text")
    .addColumn("job_id", "text")
    .addColumn("set_name", "text")
    .addColumn("key", "text")
    .addColumn("versions", "text")
    .addColumn("detail", "text")
    .execute();
  await db.schema.createIndex("audit_run").on("audit").columns(["run_id", "seq"]).execute();
  await db.schema.createIndex("audit_set").on("audit").columns(["set_name", "seq"]).execute();
  // Append-only: the database itself refuses to change or remove an entry.
  if (isPostgres(db)) {
    await sql`CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$`.execute(db);
    await sql`CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON audit
      FOR EACH ROW EXECUTE FUNCTION audit_append_only()`.execute(db);
    await sql`CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
      FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()`.execute(db);
    return;
  }
  await sql`CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END`.execute(db);
  await sql`CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END`.execute(db);
}
