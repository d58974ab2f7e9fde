// Column types that differ between the engines. On SQLite they are exactly what the migrations
// always wrote, so a database made by an older Airlock and a new one have the same schema.
import type { ColumnDefinitionBuilder, Kysely } from "kysely";
import { PostgresAdapter } from "kysely";

export const isPostgres = (db: Kysely<unknown>) =>
  db.getExecutor().adapter instanceof PostgresAdapter;

export function columnTypes(db: Kysely<unknown>) {
  const pg = isPostgres(db);
  return {
    /** 64-bit: times in ms, forge ids. SQLite's integer is 64-bit already. */
    int: pg ? ("bigint" as const) : ("integer" as const),
    blob: pg ? ("bytea" as const) : ("blob" as const),
    /** A key the database assigns in increasing order and never reuses. */
    serial: (c: ColumnDefinitionBuilder) =>
      pg ? c.primaryKey().generatedByDefaultAsIdentity() : c.primaryKey().autoIncrement(),
  };
}
