// Opens the store every command works on: the data directory's SQLite file, or the database that
// AIRLOCK_DATABASE_URL (or the serve config's `database:` block) names. Problems come back as one
// line naming the fix.
import {
  DatabaseOpenError,
  type DatabaseOptions,
  DatabaseUrlError,
  type InitMode,
  InstallationError,
  type OpenedStore,
  openStore,
  SchemaError,
} from "../store/open.js";
import { type DatabaseBlock, DatabaseSettingsError, resolveDatabase } from "../store/settings.js";
import { UserError } from "./errors.js";

export type { OpenedStore } from "../store/open.js";

/** Store problems that are the user's to fix, as UserErrors; anything else as it is. */
export function storeError(e: unknown): unknown {
  return e instanceof DatabaseOpenError ||
    e instanceof DatabaseUrlError ||
    e instanceof SchemaError ||
    e instanceof InstallationError ||
    e instanceof DatabaseSettingsError
    ? new UserError(e.message)
    : e;
}

export async function openStoreFor(o: {
  dataDir: string;
  env: NodeJS.ProcessEnv;
  block?: DatabaseBlock | undefined;
  /** Settings resolved already (the serve config's); wins over `block` and the environment. */
  database?: DatabaseOptions | undefined;
  /** false: only look (no migration, no new SQLite file). */
  migrate?: boolean;
  /** When the data directory holds no installation yet (default: make one where nothing is). */
  init?: InitMode;
  /** Check a SQLite file's pages first (a start). */
  verify?: boolean;
  /** SQLite: checkpoint the WAL in a worker thread (the gateway). */
  offThreadCheckpoints?: boolean;
}): Promise<OpenedStore> {
  try {
    const database = o.database ?? resolveDatabase({ block: o.block, env: o.env });
    return await openStore({
      dataDir: o.dataDir,
      database,
      ...(o.migrate === false ? { migrate: false } : {}),
      ...(o.init ? { init: o.init } : {}),
      ...(o.verify ? { verify: true } : {}),
      ...(o.offThreadCheckpoints ? { offThreadCheckpoints: true } : {}),
    });
  } catch (e) {
    throw storeError(e);
  }
}

/** Runs `fn` on the command's store and closes it. */
export async function withStore<T>(
  o: Parameters<typeof openStoreFor>[0],
  fn: (s: OpenedStore) => Promise<T>,
): Promise<T> {
  const store = await openStoreFor(o);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}
