// Forward-only migrations through kysely's migrator, the same list for both engines. A database
// that a newer Airlock migrated is refused rather than used: its schema may mean something this
// binary does not know.
import { type Kysely, type MigrationProvider, Migrator, sql } from "kysely";
import { isPostgres } from "./migrations/dialect.js";
import { migrations } from "./migrations/index.js";
import type { Database } from "./schema.js";

const provider: MigrationProvider = { getMigrations: async () => migrations };

export interface SchemaState {
  applied: string[];
  /** Migrations this Airlock has that the database has not had yet. */
  pending: string[];
  /** Migrations the database has had that this Airlock does not know (a newer Airlock's). */
  unknown: string[];
}

export class SchemaError extends Error {}

export async function schemaState(db: Kysely<Database>): Promise<SchemaState> {
  const anyDb = db as unknown as Kysely<unknown>;
  const exists = isPostgres(anyDb)
    ? (
        await sql<{ t: string | null }>`SELECT to_regclass('kysely_migration')::text AS t`.execute(
          db,
        )
      ).rows[0]?.t
    : (
        await sql<{ name: string }>`SELECT name FROM sqlite_master
          WHERE type = 'table' AND name = 'kysely_migration'`.execute(db)
      ).rows[0];
  const applied = exists
    ? (
        await sql<{ name: string }>`SELECT name FROM kysely_migration ORDER BY name`.execute(db)
      ).rows.map((r) => r.name)
    : [];
  const known = Object.keys(migrations);
  const done = new Set(applied);
  return {
    applied,
    pending: known.filter((n) => !done.has(n)),
    unknown: applied.filter((n) => !(n in migrations)),
  };
}

/** Applies pending migrations; the names applied. Refuses a database newer than this Airlock. */
export async function migrate(db: Kysely<Database>, where: string): Promise<string[]> {
  const state = await schemaState(db);
  if (state.unknown.length > 0) {
    throw new SchemaError(
      `the database at ${where} was migrated by a newer Airlock (migration ${state.unknown.join(", ")} is unknown to this one): run that Airlock version or newer, or restore a backup made before the upgrade`,
    );
  }
  if (state.pending.length === 0) return [];
  const { error, results } = await new Migrator({ db, provider }).migrateToLatest();
  if (error) {
    throw new SchemaError(
      `could not update the database at ${where}: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  return (results ?? []).filter((r) => r.status === "Success").map((r) => r.migrationName);
}
