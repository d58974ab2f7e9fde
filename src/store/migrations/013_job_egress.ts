import type { Kysely } from "kysely";

// Where a job with a network allow list connected: a JSON EgressRecord (redacted), or null.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("jobs").addColumn("egress", "text").execute();
}
