// Opens the SQLite database in the data directory and brings its schema up to date.
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
  const sqlite = new SQLite(path.join(dataDir, "airlock.db"));
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
