// Opens the SQLite database in the data directory and brings its schema up to date.
import { closeSync, existsSync, openSync } from "node:fs";
import path from "node:path";
import SQLite from "better-sqlite3";
import { Kysely, type MigrationProvider, Migrator, SqliteDialect } from "kysely";
import { ensureDataDir } from "./datadir.js";
import { migrations } from "./migrations/index.js";
import type { Database } from "./schema.js";

export type Db = Kysely<Database>;

export interface OpenedDb {
  db: Db;
  /** The underlying handle, for the few places that need synchronous transactions. */
  sqlite: SQLite.Database;
  close(): Promise<void>;
}

const provider: MigrationProvider = { getMigrations: async () => migrations };

export async function openDb(dataDir: string): Promise<OpenedDb> {
  ensureDataDir(dataDir);
  const file = path.join(dataDir, "airlock.db");
  // Private from the start whatever the umask; SQLite gives -wal and -shm the same mode.
  closeSync(openSync(file, "a", 0o600));
  const sqlite = new SQLite(file);
  sqlite.pragma("journal_mode = WAL");
  sqlite.pragma("synchronous = NORMAL");
  sqlite.pragma("foreign_keys = ON");
  sqlite.pragma("busy_timeout = 5000");
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  const { error } = await new Migrator({ db, provider }).migrateToLatest();
  if (error) {
    await db.destroy();
    throw new Error(`could not update the database in ${dataDir}: ${String(error)}`);
  }
  return { db, sqlite, close: () => db.destroy() };
}

export interface InspectedDb extends OpenedDb {
  /** Migrations this Airlock has that the database has not had yet. */
  pending: string[];
  /** Migrations the database has had that this Airlock does not know (a newer Airlock's). */
  unknown: string[];
}

/**
 * Opens an existing database without migrating it, and says how its schema stands: for
 * `airlock doctor`, which looks and changes nothing. Undefined when there is no database.
 */
export async function inspectDb(dataDir: string): Promise<InspectedDb | undefined> {
  const file = path.join(dataDir, "airlock.db");
  if (!existsSync(file)) return undefined;
  // Read-write but never written: the last connection to close then removes the -wal and -shm
  // files it made, where a read-only one would leave them behind.
  const sqlite = new SQLite(file, { fileMustExist: true });
  sqlite.pragma("busy_timeout = 5000");
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  try {
    const known = await new Migrator({ db, provider }).getMigrations();
    const executed = new Set(
      sqlite.prepare(`SELECT name FROM sqlite_master WHERE name = 'kysely_migration'`).get()
        ? (sqlite.prepare(`SELECT name FROM kysely_migration`).all() as { name: string }[]).map(
            (r) => r.name,
          )
        : [],
    );
    const names = new Set(known.map((m) => m.name));
    return {
      db,
      sqlite,
      close: () => db.destroy(),
      pending: known.filter((m) => !executed.has(m.name)).map((m) => m.name),
      unknown: [...executed].filter((n) => !names.has(n)),
    };
  } catch (e) {
    await db.destroy();
    throw e;
  }
}
