import { type Kysely, sql } from "kysely";
import { columnTypes, isPostgres } from "./dialect.js";

// What each check run last showed, so that a job run again on the same commit gets a new check run
// rather than reopening a completed one, and the create in flight for such a re-run.
export async function up(db: Kysely<unknown>): Promise<void> {
  const T = columnTypes(db);
  await db.schema.alterTable("check_run_ids").addColumn("last_status", "text").execute();
  await db.schema.alterTable("check_run_ids").addColumn("replaces_id", T.int).execute();
  await db.schema.alterTable("check_run_ids").addColumn("outbox_seq", T.int).execute();
  // Existing rows: the status of the newest state delivered for them (a conclusion completes).
  // A PostgreSQL database has none: Airlock on PostgreSQL starts with every migration here.
  if (isPostgres(db)) return;
  await sql`UPDATE check_run_ids SET last_status = (
      SELECT CASE WHEN json_extract(o.payload, '$.state.conclusion') IS NOT NULL THEN 'completed'
                  ELSE json_extract(o.payload, '$.state.status') END
      FROM outbox o
      WHERE o.ordering_key = 'check:' || check_run_ids.repo || ':' || check_run_ids.head_sha
              || ':' || check_run_ids.name
        AND o.kind = 'check_run' AND o.state = 'done'
      ORDER BY o.seq DESC LIMIT 1)`.execute(db);
}
