import type { Kysely } from "kysely";

// Why a running request was asked to stop (a new push, /cancel, a closed PR), stored so that the
// gateway running it stops it, whichever gateway handled the event; null when none asked.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("run_requests").addColumn("stop_reason", "text").execute();
}
