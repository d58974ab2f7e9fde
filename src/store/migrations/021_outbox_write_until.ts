import type { Kysely } from "kysely";
import { columnTypes } from "./dialect.js";

// A write to GitHub that the holder of an outbox item sent may still land after the holder's
// lease ran out (a stalled gateway's request already on its way): until when it may, so that
// another gateway takes the item over only after that (and looks before writing again).
export async function up(db: Kysely<unknown>): Promise<void> {
  const { int } = columnTypes(db);
  await db.schema.alterTable("outbox").addColumn("write_until", int).execute();
}
