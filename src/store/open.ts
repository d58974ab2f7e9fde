// Opens the database Airlock's state lives in: the data directory's SQLite file by default, a
// `sqlite:PATH` file, or PostgreSQL at a postgres:// URL. The schema is brought up to date unless
// the caller only looks (`airlock doctor`).
import { existsSync, statSync } from "node:fs";
import path from "node:path";
import { sql } from "kysely";
import {
  DatabaseUrlError,
  isPostgresUrl,
  openPostgres,
  type PostgresOptions,
} from "./engines/postgres.js";
import { openSqlite, sqliteFileOf } from "./engines/sqlite.js";
import {
  damagedDatabase,
  emptyDatabase,
  type InitMode,
  InstallationError,
  mayInitialise,
  readInstallation,
  writeInstallation,
} from "./installation.js";
import {
  DEFAULT_LEASE_TTL_MS,
  type LeaseState,
  newHolder,
  stopKeepAlive,
} from "./kysely/leases.js";
import { KyselyStore } from "./kysely/store.js";
import { migrate, SchemaError, type SchemaState, schemaState } from "./migrate.js";
import { probeWrite } from "./probe.js";
import type { Engine, OpenStore } from "./types.js";

export { DatabaseUrlError } from "./engines/postgres.js";
export { type InitMode, InstallationError } from "./installation.js";
export { SchemaError } from "./migrate.js";

export interface DatabaseOptions extends Omit<PostgresOptions, "url"> {
  /** postgres://USER@HOST:PORT/DATABASE, or sqlite:PATH; none: the data directory's SQLite file. */
  url?: string | undefined;
  /**
   * How long a claim on work in flight holds without a renewal (default 30 s): how soon work of a
   * gateway that died is taken over by another.
   */
  leaseTtlMs?: number | undefined;
}

export interface OpenOptions {
  dataDir: string;
  database?: DatabaseOptions | undefined;
  /** false: only look; neither create the SQLite file nor migrate (default true). */
  migrate?: boolean;
  /** What to do when the data directory holds no installation yet (default first-use). */
  init?: InitMode;
  /** SQLite: run `PRAGMA quick_check` first, and refuse a damaged file (at a start). */
  verify?: boolean;
  /** SQLite: checkpoint the WAL in a worker thread (a long-running gateway; see checkpointer.ts). */
  offThreadCheckpoints?: boolean;
}

/** A store with what only `airlock db` and `airlock doctor` need. */
export class OpenedStore extends KyselyStore implements OpenStore {
  constructor(
    opened: ConstructorParameters<typeof KyselyStore>[0],
    engine: Engine,
    readonly location: string,
    private readonly versionOf: () => Promise<string>,
    purgeDeleted: () => Promise<void>,
    private readonly lease: LeaseState = { holder: newHolder(), ttlMs: DEFAULT_LEASE_TTL_MS },
    /** What the engine runs beside the connection, ended before it closes. */
    private readonly release: () => Promise<void> = async () => {},
  ) {
    super(opened, engine, { settled: new Set(), lease }, { purgeDeleted });
  }

  /** This open made a new installation: the database had no schema and nothing showed an old one. */
  madeInstallation = false;

  async ping(): Promise<void> {
    await sql`SELECT 1`.execute(this.db);
  }

  probeWrite(now = Date.now()): Promise<void> {
    return probeWrite(this.db, now);
  }

  version(): Promise<string> {
    return this.versionOf();
  }

  schema(): Promise<SchemaState> {
    return schemaState(this.db);
  }

  migrate(): Promise<string[]> {
    return migrate(this.db, this.location);
  }

  /** Ends this store's leases on work still in flight (another gateway takes it at once). */
  async close(): Promise<void> {
    const claimed = this.lease.timer !== undefined;
    stopKeepAlive(this.lease);
    if (claimed) await this.leases.release().catch(() => {});
    await this.release();
    await this.db.destroy();
  }
}

/** Why a database could not be opened, in words that name the fix; never a credential. */
export class DatabaseOpenError extends Error {}

function explain(e: unknown, where: string): Error {
  if (
    e instanceof DatabaseUrlError ||
    e instanceof DatabaseOpenError ||
    e instanceof SchemaError ||
    e instanceof InstallationError
  ) {
    return e;
  }
  const err = e as { code?: string; message?: string };
  const code = err.code ?? "";
  if (code === "SQLITE_NOTADB" || code.startsWith("SQLITE_CORRUPT")) {
    return damagedDatabase(where.replace(/^sqlite:/, ""), err.message ?? code);
  }
  const why =
    code === "ECONNREFUSED"
      ? "nothing listens there"
      : code === "ENOTFOUND" || code === "EAI_AGAIN"
        ? "the host name does not resolve"
        : code === "28P01" || code === "28000"
          ? "the server refused the user or password (AIRLOCK_DATABASE_PASSWORD, database.password_file)"
          : code === "3D000"
            ? "the database does not exist: create it first (createdb, or CREATE DATABASE)"
            : (err.message ?? String(e));
  return new DatabaseOpenError(`cannot open the database at ${where}: ${why}`);
}

export async function openStore(o: OpenOptions): Promise<OpenedStore> {
  const url = o.database?.url;
  const look = o.migrate === false;
  const init = o.init ?? "first-use";
  let store: OpenedStore;
  const lease = { holder: newHolder(), ttlMs: o.database?.leaseTtlMs ?? DEFAULT_LEASE_TTL_MS };
  if (url && isPostgresUrl(url)) {
    const pg = await openPostgres({ ...o.database, url });
    store = new OpenedStore(pg.db, "postgres", pg.display, pg.version, async () => {}, lease);
  } else {
    if (url && !url.startsWith("sqlite:")) {
      throw new DatabaseUrlError(
        `the database URL must start with postgres:// or sqlite:, not ${url.split(":")[0]}:`,
      );
    }
    const file = url ? path.resolve(url.slice("sqlite:".length)) : sqliteFileOf(o.dataDir);
    let lite: ReturnType<typeof openSqlite>;
    try {
      if (init !== "ignore") {
        // SQLite takes a 0-byte file for a new database: whatever it held would be gone unseen.
        if (!existsSync(file)) {
          if (!look) {
            mayInitialise({
              dataDir: o.dataDir,
              location: `sqlite:${file}`,
              what: "missing",
              init,
            });
          }
        } else if (statSync(file).size === 0) throw emptyDatabase(file, o.dataDir);
      }
      lite = openSqlite(file, {
        create: !look,
        offThreadCheckpoints: (o.offThreadCheckpoints ?? false) && !look,
      });
    } catch (e) {
      throw explain(e, `sqlite:${file}`);
    }
    store = new OpenedStore(
      lite.db,
      "sqlite",
      `sqlite:${file}`,
      lite.version,
      lite.checkpoint,
      lease,
      lite.release,
    );
  }
  try {
    if (o.verify && store.engine === "sqlite") await quickCheck(store);
    if (look) await store.ping();
    else {
      if (init !== "ignore" && (await store.schema()).applied.length === 0) {
        mayInitialise({ dataDir: o.dataDir, location: store.location, what: "no schema", init });
        store.madeInstallation = true;
      }
      await store.migrate();
      if (init !== "ignore") recordInstallation(o.dataDir, store.location);
    }
  } catch (e) {
    await store.close().catch(() => {});
    throw explain(e, store.location);
  }
  return store;
}

/** SQLite's own check of every page's structure (not of index contents: that is integrity_check). */
async function quickCheck(store: OpenedStore): Promise<void> {
  const rows = (await sql<{ quick_check: string }>`PRAGMA quick_check(5)`.execute(store.db)).rows;
  const problems = rows.map((r) => r.quick_check).filter((r) => r !== "ok");
  if (problems.length > 0) {
    // Its lines ("*** in database main ***", then one per problem) become one.
    const said = problems.join(" ").replace(/\*\*\* in database \w+ \*\*\*/g, "");
    throw damagedDatabase(store.location.replace(/^sqlite:/, ""), `PRAGMA quick_check: ${said}`);
  }
}

/** Marks the data directory as holding an installation, and where its database now is. */
function recordInstallation(dataDir: string, location: string): void {
  const made = readInstallation(dataDir);
  if (made?.database === location) return;
  try {
    writeInstallation(dataDir, {
      createdAt: made?.createdAt ?? new Date().toISOString(),
      database: location,
    });
  } catch (e) {
    throw new DatabaseOpenError(
      `cannot record the installation in ${dataDir}: ${(e as Error).message} (the data directory must be writable by the user running Airlock)`,
    );
  }
}
