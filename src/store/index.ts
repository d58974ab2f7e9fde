// What the rest of Airlock uses of the store: opening it, its interfaces (types.ts), and the few
// helpers that belong with the records.
export { CopyError, copyDatabase, TABLES } from "./copy.js";
export { ensureDataDir, resolveDataDir } from "./datadir.js";
export {
  JOB_GAVE_UP,
  JOB_INTERRUPTED,
  jobEgress,
  jobNotes,
  jobStatesText,
} from "./job-text.js";
export { newRequestId } from "./kysely/run-requests.js";
export { hashCredential, newCredential, TOKEN_PREFIX } from "./kysely/sessions.js";
export {
  DatabaseOpenError,
  type DatabaseOptions,
  DatabaseUrlError,
  type InitMode,
  InstallationError,
  type OpenedStore,
  openStore,
  SchemaError,
} from "./open.js";
export * from "./types.js";
