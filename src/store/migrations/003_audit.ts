import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("audit")
    .addColumn("seq", "integer", (c) => c.primaryKey().autoIncrement())
    .addColumn("at", "integer", (c) => c.notNull())
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
  await sql`CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END`.execute(db);
  await sql`CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END`.execute(db);
}
