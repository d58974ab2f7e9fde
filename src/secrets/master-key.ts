// Where the master key comes from: AIRLOCK_MASTER_KEY, else <dataDir>/master.key, created on
// first use with mode 0600. A key file others can read is refused rather than silently used.
import { closeSync, constants, fstatSync, openSync, readFileSync, writeSync } from "node:fs";
import path from "node:path";
import { ensureDataDir } from "../store/datadir.js";
import { masterKeyId, newKey, parseMasterKey } from "./crypto.js";
import { SecretsError } from "./errors.js";

export const MASTER_KEY_ENV = "AIRLOCK_MASTER_KEY";
export const MASTER_KEY_FILE = "master.key";

export interface MasterKey {
  key: Buffer;
  /** Non-secret name of the key (see masterKeyId). */
  id: string;
  source: "env" | "file";
  /** The key file, whether or not it is the source. */
  file: string;
}

export const masterKeyPath = (dataDir: string): string => path.join(dataDir, MASTER_KEY_FILE);

/** Reads a key file, refusing one that group or others can read or write. */
export function readKeyFile(file: string): Buffer {
  const fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const mode = fstatSync(fd).mode & 0o777;
    if (mode & 0o077) {
      throw new SecretsError(
        `${file} is accessible to group or others (mode ${mode.toString(8).padStart(4, "0")}): run \`chmod 600 ${file}\` (and consider the key exposed if others could read it)`,
      );
    }
    return parseMasterKey(readFileSync(fd, "utf8"), file);
  } finally {
    closeSync(fd);
  }
}

/** Writes a new key file with mode 0600; fails if the file exists. */
export function writeKeyFile(file: string, key: Buffer): void {
  const fd = openSync(file, "wx", 0o600);
  try {
    writeSync(fd, `${key.toString("base64")}\n`);
  } finally {
    closeSync(fd);
  }
}

const make = (key: Buffer, source: MasterKey["source"], file: string): MasterKey => ({
  key,
  id: masterKeyId(key),
  source,
  file,
});

/**
 * The master key, or undefined when none exists and `create` is false. With `create`, a missing
 * key file is created (an empty store being written to for the first time).
 */
export function loadMasterKey(
  dataDir: string,
  env: NodeJS.ProcessEnv,
  opts: { create: boolean },
): MasterKey | undefined {
  const file = masterKeyPath(dataDir);
  const fromEnv = env[MASTER_KEY_ENV];
  if (fromEnv) return make(parseMasterKey(fromEnv, MASTER_KEY_ENV), "env", file);
  try {
    return make(readKeyFile(file), "file", file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") {
      if (e instanceof SecretsError) throw e;
      throw new SecretsError(`cannot read ${file}: ${(e as Error).message}`);
    }
  }
  if (!opts.create) return undefined;
  ensureDataDir(dataDir);
  try {
    writeKeyFile(file, newKey());
  } catch (e) {
    // Another process created it first: use theirs.
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
  }
  return make(readKeyFile(file), "file", file);
}
