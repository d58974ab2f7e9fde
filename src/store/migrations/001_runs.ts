import { type Kysely, sql } from "kysely";
import { columnTypes } from "./dialect.js";

export async function up(db: Kysely<unknown>): Promise<void> {
  const T = columnTypes(db);
  await db.schema
    .createTable("runs")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("source", "text", (c) => c.notNull())
    .addColumn("repo", "text", (c) => c.notNull())
    .addColumn("ref", "text")
    .addColumn("sha", "text", (c) => c.notNull())
    .addColumn("pr", T.int)
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("selection", "text")
    .addColumn("authorized_by", "text")
    .addColumn("created_at", T.int, (c) => c.notNull())
    .addColumn("started_at", T.int)
    .addColumn("finished_at", T.int)
    .addColumn("notes", "text", (c) => c.notNull().defaultTo("{}"))
    .execute();
  await db.schema.createIndex("runs_repo_pr").on("runs").columns(["repo", "pr"]).execute();
  await db.schema.createIndex("runs_created").on("runs").column("created_at").execute();
  await db.schema
    .createTable("jobs")
    .addColumn("seq", T.int, T.serial)
    .addColumn("run_id", "text", (c) => c.notNull().references("runs.id").onDelete("cascade"))
    .addColumn("job_id", "text", (c) => c.notNull())
    .addColumn("template", "text", (c) => c.notNull())
    .addColumn("state", "text", (c) => c.notNull())
    .addColumn("reason", "text", (c) => c.notNull().defaultTo(""))
    .addColumn("needs", "text", (c) => c.notNull().defaultTo("[]"))
    .addColumn("secrets", "text", (c) => c.notNull().defaultTo("[]"))
    .addColumn("restricted", T.int, (c) => c.notNull().defaultTo(0))
    .addColumn("exit_code", T.int)
    .addColumn("started_at", T.int)
    .addColumn("finished_at", T.int)
    .addColumn("tests_passed", T.int, (c) => c.notNull().defaultTo(0))
    .addColumn("tests_failed", T.int, (c) => c.notNull().defaultTo(0))
    .addColumn("tests_skipped", T.int, (c) => c.notNull().defaultTo(0))
    .addColumn("tests", "text", (c) => c.notNull().defaultTo("[]"))
    .addColumn("grants", "text", (c) => c.notNull().defaultTo("{}"))
    .addColumn("error", "text")
    .addUniqueConstraint("jobs_run_job", ["run_id", "job_id"])
    .execute();
  await sql`select 1`.execute(db);
}
