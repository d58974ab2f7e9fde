import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("runs")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("source", "text", (c) => c.notNull())
    .addColumn("repo", "text", (c) => c.notNull())
    .addColumn("ref", "text")
    .addColumn("sha", "text", (c) => c.notNull())
    .addColumn("pr", "integer")
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("selection", "text")
    .addColumn("authorized_by", "text")
    .addColumn("created_at", "integer", (c) => c.notNull())
    .addColumn("started_at", "integer")
    .addColumn("finished_at", "integer")
    .addColumn("notes", "text", (c) => c.notNull().defaultTo("{}"))
    .execute();
  await db.schema.createIndex("runs_repo_pr").on("runs").columns(["repo", "pr"]).execute();
  await db.schema.createIndex("runs_created").on("runs").column("created_at").execute();
  await db.schema
    .createTable("jobs")
    .addColumn("seq", "integer", (c) => c.primaryKey().autoIncrement())
    .addColumn("run_id", "text", (c) => c.notNull().references("runs.id").onDelete("cascade"))
    .addColumn("job_id", "text", (c) => c.notNull())
    .addColumn("template", "text", (c) => c.notNull())
    .addColumn("state", "text", (c) => c.notNull())
    .addColumn("reason", "text", (c) => c.notNull().defaultTo(""))
    .addColumn("needs", "text", (c) => c.notNull().defaultTo("[]"))
    .addColumn("secrets", "text", (c) => c.notNull().defaultTo("[]"))
    .addColumn("restricted", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("exit_code", "integer")
    .addColumn("started_at", "integer")
    .addColumn("finished_at", "integer")
    .addColumn("tests_passed", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("tests_failed", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("tests_skipped", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("tests", "text", (c) => c.notNull().defaultTo("[]"))
    .addColumn("grants", "text", (c) => c.notNull().defaultTo("{}"))
    .addColumn("error", "text")
    .addUniqueConstraint("jobs_run_job", ["run_id", "job_id"])
    .execute();
  await sql`select 1`.execute(db);
}
