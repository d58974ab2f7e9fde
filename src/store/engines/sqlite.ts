// The embedded engine: one better-sqlite3 connection in WAL mode. Kysely's SQLite driver puts
// every statement and transaction of the process through one mutex, so a transaction never
// interleaves with another statement; transactions begin IMMEDIATE, so that a writer in another
// process (the CLI beside `airlock serve`) waits for the write lock instead of failing midway.
import { closeSync, existsSync, openSync } from "node:fs";
import path from "node:path";
import SQLite from "better-sqlite3";
import {
  CompiledQuery,
  type DatabaseConnection,
  type Driver,
  Kysely,
  type SqliteDatabase,
  SqliteDialect,
  type SqliteDialectConfig,
  SqliteDriver,
  sql,
} from "kysely";
import { ensureDataDir } from "../datadir.js";
import type { Database } from "../schema.js";
import { checkpointOffThread, WRITER_CHECKPOINT_PAGES } from "./checkpointer.js";

export const SQLITE_FILE = "airlock.db";

class ImmediateDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw("begin immediate"));
  }
}

class ImmediateDialect extends SqliteDialect {
  constructor(private readonly config: SqliteDialectConfig) {
    super(config);
  }
  override createDriver(): Driver {
    return new ImmediateDriver(this.config);
  }
}

/** Statements kept for reuse: enough for every query shape Airlock runs often. */
const STATEMENTS = 256;

/**
 * better-sqlite3 with its prepared statements kept, by SQL text, the least recently used let go
 * first: Kysely prepares every query it runs, and preparing costs as much as running the small
 * statements of intake and the processing loop. Reusing one is safe: Kysely runs each to the end
 * at once (it never streams here), one at a time under its mutex.
 */
function keepingStatements(db: SQLite.Database): SqliteDatabase {
  const kept = new Map<string, SQLite.Statement>();
  return {
    close: () => void db.close(),
    prepare(text: string) {
      let stmt = kept.get(text);
      if (stmt) kept.delete(text);
      else stmt = db.prepare(text);
      kept.set(text, stmt);
      if (kept.size > STATEMENTS) kept.delete(kept.keys().next().value as string);
      return stmt;
    },
  };
}

export interface SqliteHandle {
  db: Kysely<Database>;
  file: string;
  version(): Promise<string>;
  /** Copies what the WAL holds into the database file and empties the WAL. */
  checkpoint(): Promise<void>;
  /** Ends what runs beside the connection (the checkpointing thread), before it closes. */
  release(): Promise<void>;
}

/** The database file of a data directory. */
export const sqliteFileOf = (dataDir: string) => path.join(dataDir, SQLITE_FILE);

/**
 * Opens (creating when `create`) a SQLite database file. Its mode is 0600 from the start whatever
 * the umask; SQLite gives -wal and -shm the same mode. `offThreadCheckpoints`: a long-running
 * process (the gateway) checkpoints the WAL in a worker thread, not between its own statements.
 */
export function openSqlite(
  file: string,
  o: { create: boolean; offThreadCheckpoints?: boolean },
): SqliteHandle {
  if (o.create) {
    ensureDataDir(path.dirname(file));
    closeSync(openSync(file, "a", 0o600));
  } else if (!existsSync(file)) {
    throw new Error(`no SQLite database at ${file}`);
  }
  const sqlite = new SQLite(file, { fileMustExist: true });
  sqlite.pragma("journal_mode = WAL");
  sqlite.pragma("synchronous = NORMAL");
  sqlite.pragma("foreign_keys = ON");
  sqlite.pragma("busy_timeout = 5000");
  // Deleted rows (old secret versions, replaced data keys) are zeroed, not left in free pages.
  sqlite.pragma("secure_delete = ON");
  const checkpointer = o.offThreadCheckpoints ? checkpointOffThread(file) : undefined;
  if (checkpointer) sqlite.pragma(`wal_autocheckpoint = ${WRITER_CHECKPOINT_PAGES}`);
  const db = new Kysely<Database>({
    dialect: new ImmediateDialect({ database: keepingStatements(sqlite) }),
  });
  return {
    db,
    file,
    // Through kysely, so that neither runs inside another caller's transaction.
    version: async () =>
      `SQLite ${(await sql<{ v: string }>`SELECT sqlite_version() AS v`.execute(db)).rows[0]?.v}`,
    checkpoint: async () => void (await sql`PRAGMA wal_checkpoint(TRUNCATE)`.execute(db)),
    release: async () => checkpointer?.stop(),
  };
}
