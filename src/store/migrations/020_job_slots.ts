import type { Kysely } from "kysely";
import { columnTypes } from "./dialect.js";

// Public jobs' places in their pull request's and author's fair share, held while they run, so
// that the share holds across every gateway on the database (JobSlotRepo).
export async function up(db: Kysely<unknown>): Promise<void> {
  const { int } = columnTypes(db);
  await db.schema
    .createTable("job_slots")
    .addColumn("run_id", "text", (c) => c.notNull())
    .addColumn("job_id", "text", (c) => c.notNull())
    .addColumn("pr_key", "text", (c) => c.notNull())
    .addColumn("author", "text", (c) => c.notNull())
    .addColumn("taken_at", int, (c) => c.notNull())
    .addPrimaryKeyConstraint("job_slots_pk", ["run_id", "job_id"])
    .execute();
}
