// The database engines a store test runs on, as woodpecker's datastore tests pick theirs: SQLite
// always, PostgreSQL when the machine has it (always on CI, see postgres.ts). Each `open` gives a
// fresh, migrated, empty database.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { type DatabaseOptions, type OpenedStore, openStore } from "../../src/store/open.js";
import type { Engine } from "../../src/store/types.js";
import { postgres } from "./postgres.js";

export interface OpenedTestStore {
  store: OpenedStore;
  dataDir: string;
  /** What `openStore` was given: open it again, or hand it to a child process. */
  database: DatabaseOptions | undefined;
  /** Opens another connection to the same database. */
  reopen(): Promise<OpenedStore>;
  close(): Promise<void>;
}

export interface TestEngine {
  name: Engine;
  open(): Promise<OpenedTestStore>;
  /** A fresh database's settings without opening it (SQLite: none, in a fresh data dir). */
  fresh(): Promise<{ dataDir: string; database: DatabaseOptions | undefined; cleanup(): void }>;
}

function tempDir(): string {
  return mkdtempSync(path.join(tmpdir(), "airlock-store-"));
}

async function opened(
  fresh: () => Promise<{ dataDir: string; database: DatabaseOptions | undefined; cleanup(): void }>,
): Promise<OpenedTestStore> {
  const f = await fresh();
  const store = await openStore({ dataDir: f.dataDir, database: f.database });
  return {
    store,
    dataDir: f.dataDir,
    database: f.database,
    reopen: () => openStore({ dataDir: f.dataDir, database: f.database }),
    async close() {
      await store.close();
      f.cleanup();
    },
  };
}

const sqlite: TestEngine = {
  name: "sqlite",
  async fresh() {
    const dataDir = tempDir();
    return {
      dataDir,
      database: undefined,
      cleanup: () => rmSync(dataDir, { recursive: true, force: true }),
    };
  },
  open() {
    return opened(() => sqlite.fresh());
  },
};

let warned = false;

/** SQLite, and PostgreSQL where there is one. */
export async function engines(): Promise<TestEngine[]> {
  const server = await postgres();
  if (!server) {
    if (!warned) {
      warned = true;
      process.stderr.write(
        "note: no PostgreSQL on this machine (Debian's postgresql package): store tests ran on SQLite only\n",
      );
    }
    return [sqlite];
  }
  const pg: TestEngine = {
    name: "postgres",
    async fresh() {
      const dataDir = tempDir();
      const url = await server.createDatabase();
      return {
        dataDir,
        database: { url, password: server.password },
        cleanup: () => rmSync(dataDir, { recursive: true, force: true }),
      };
    },
    open() {
      return opened(() => pg.fresh());
    },
  };
  return [sqlite, pg];
}
