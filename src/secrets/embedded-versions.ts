// Adding a version of one key inside a write transaction: checked, sealed, and the versions
// beyond the key's `keep` pruned. Apart from the store's methods because set, rotate and import
// all add versions this one way.
import type { SecretRepo } from "../store/types.js";
import type { Keyring } from "./embedded-keyring.js";
import { SecretsError } from "./errors.js";
import { checkKeyName, checkSetName, checkValue } from "./names.js";

export const DEFAULT_KEEP = 5;
const MAX_KEEP = 100;

export interface PutOptions {
  /** Who is acting, for the audit log ("cli:alice"). */
  actor: string;
  /** Deliver as a file; undefined keeps the key's current choice (false for a new key). */
  file?: boolean;
  /** Versions to keep; undefined keeps the key's current choice (DEFAULT_KEEP for a new key). */
  keep?: number;
}

/** Inside a write transaction: adds a version and prunes beyond `keep`. Returns the version. */
export async function putVersion(
  rows: SecretRepo,
  keys: Keyring,
  clock: () => number,
  set: string,
  key: string,
  value: string,
  opts: PutOptions & { rotate?: boolean },
): Promise<number> {
  const existing = await rows.key(set, key);
  if (opts.rotate && !existing) {
    throw new SecretsError(
      `${set}/${key} does not exist, so there is nothing to rotate: create it with \`airlock secrets set ${set} ${key}\``,
    );
  }
  const file = opts.file ?? existing?.file === 1;
  checkValue(set, key, value, file);
  const now = clock();
  const version = existing?.next_version ?? 1;
  const keep = opts.keep ?? existing?.keep ?? DEFAULT_KEEP;
  // The key row first: values reference it.
  await rows.upsertKey({
    set_name: set,
    key,
    current: version,
    next_version: version + 1,
    keep,
    file: file ? 1 : 0,
    created_at: existing?.created_at ?? now,
    updated_at: now,
    rotated_at: opts.rotate ? now : (existing?.rotated_at ?? null),
  });
  await rows.insertValue({
    set_name: set,
    key,
    version,
    ...(await keys.sealValue(rows, set, key, version, value)),
    created_at: now,
  });
  for (const old of (await rows.values(set, key)).slice(keep)) {
    await rows.deleteValue(set, key, old.version);
  }
  return version;
}

/** The names and --keep of a write, checked before the store is unlocked. */
export function checkPut(set: string, key: string, opts: PutOptions): void {
  checkSetName(set);
  checkKeyName(key);
  if (
    opts.keep !== undefined &&
    !(Number.isInteger(opts.keep) && opts.keep >= 1 && opts.keep <= MAX_KEEP)
  ) {
    throw new SecretsError(`--keep must be a whole number from 1 to ${MAX_KEEP}`);
  }
}
