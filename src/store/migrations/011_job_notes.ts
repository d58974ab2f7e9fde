import type { Kysely } from "kysely";

// Airlock's own closing lines about a job (a limit that ended it, a truncated log, a hint), which
// the terminal, --json, the console and the check run show: fixed texts, never job output.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable("jobs")
    .addColumn("notes", "text", (c) => c.notNull().defaultTo("[]"))
    .execute();
}
