import { type Kysely, sql } from "kysely";

// The events still open (pending or in flight), in arrival order: the processing loop claims the
// first of them that is due, so a claim reads a few entries of this small index however many
// events are stored or waiting.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`CREATE INDEX events_open ON events (seq) WHERE state IN ('pending', 'processing')`.execute(
    db,
  );
}
