import type { Kysely } from "kysely";

// Why a run request was taken up again: "shutdown" when a graceful stop of Airlock interrupted
// it, which does not count against its attempts; null for anything else (a crash, a failure).
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("run_requests").addColumn("interrupted_by", "text").execute();
}
