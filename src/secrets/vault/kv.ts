// Reading and writing a set's KV secret: where it lives (mount, KV version and path, detected
// from Vault unless configured), every live version of its values, and a write of one key.
// Apart from the backend because granting, listing and rotating all go through these.
import type { VaultSetConfig } from "../../config/vault-schema.js";
import type { VaultClient } from "./client.js";
import { VaultConfigError } from "./connection.js";
import { VaultError } from "./errors.js";

export interface ResolvedKv {
  mount: string;
  kvVersion: 1 | 2;
  /** The secret's path inside the mount (without `data/`). */
  path: string;
  /** The API path the job's policy must allow reading. */
  readPath: string;
}

/** Runs a request with Airlock's client for the set at hand, logging in again once if refused. */
export type WithLogin = <T>(fn: (c: VaultClient) => Promise<T>) => Promise<T>;

/** Where a set's secret lives: mount and KV version from the set, else asked of Vault. */
export async function detectKv(
  set: string,
  cfg: VaultSetConfig,
  withLogin: WithLogin,
): Promise<ResolvedKv> {
  let mount = cfg.mount?.replace(/\/+$/, "");
  let kvVersion = cfg.kv_version;
  if (!mount || !kvVersion) {
    let info: Awaited<ReturnType<VaultClient["mountInfo"]>>;
    try {
      info = await withLogin((c) => c.mountInfo(cfg.path));
    } catch (e) {
      if (e instanceof VaultError && e.kind === "http") {
        e.message += `; to skip detection, set \`mount:\` and \`kv_version:\` in the \`vault:\` block of set "${set}"`;
      }
      throw e;
    }
    if (info.kvVersion === undefined) {
      throw new VaultConfigError(
        `${cfg.path} is on a "${info.type}" mount, not a KV mount: point \`path\` at a KV secret (dynamic paths go under \`dynamic:\`)`,
      );
    }
    mount ??= info.mount;
    kvVersion ??= info.kvVersion;
  }
  if (cfg.path !== mount && !cfg.path.startsWith(`${mount}/`)) {
    throw new VaultConfigError(
      `the path ${cfg.path} of set "${set}" is not under its mount ${mount}/`,
    );
  }
  let path = cfg.path.slice(mount.length + 1);
  if (kvVersion === 2 && path.startsWith("data/")) path = path.slice("data/".length);
  if (!path) throw new VaultConfigError(`the path of set "${set}" names a mount, not a secret`);
  const readPath = kvVersion === 2 ? `${mount}/data/${path}` : `${mount}/${path}`;
  return { mount, kvVersion, path, readPath };
}

/**
 * The current values and every live version's values. Token mode fails closed when the
 * versions cannot be listed: the job's token could read versions the redactor never saw.
 */
export async function liveVersions(
  kv: ResolvedKv,
  withLogin: WithLogin,
  mustListVersions: boolean,
): Promise<{
  current: Record<string, unknown>;
  currentVersion: number;
  versions: Record<string, unknown>[];
  /** Older versions could not be listed, so only the current one is masked. */
  partial?: boolean;
}> {
  if (kv.kvVersion === 1) {
    const data = await withLogin((c) => c.kv1Read(kv.mount, kv.path));
    if (!data) throw notFound(kv);
    return { current: data, currentVersion: 1, versions: [data] };
  }
  const cur = await withLogin((c) => c.kv2Read(kv.mount, kv.path));
  if (!cur) throw notFound(kv);
  let meta: Awaited<ReturnType<VaultClient["kv2ReadMetadata"]>>;
  try {
    meta = await withLogin((c) => c.kv2ReadMetadata(kv.mount, kv.path));
  } catch (e) {
    if (!(e instanceof VaultError && e.status === 403) || mustListVersions) {
      if (e instanceof VaultError && e.status === 403) {
        e.message += `; token mode needs Airlock to read ${kv.mount}/metadata/${kv.path} so that every version the job's token can read is masked`;
      }
      throw e;
    }
    meta = null;
  }
  const versions: Record<string, unknown>[] = [cur.data];
  for (const [n, v] of Object.entries(meta?.versions ?? {})) {
    const num = Number(n);
    if (num === cur.metadata.version || v.destroyed || v.deletion_time) continue;
    const old = await withLogin((c) => c.kv2Read(kv.mount, kv.path, num));
    if (old) versions.push(old.data);
  }
  return { current: cur.data, currentVersion: cur.metadata.version, versions, partial: !meta };
}

/**
 * Writes a new version with `key` (a key of the secret) set to `value`; the other keys keep
 * their values. KV v2 writes use check-and-set, so a concurrent writer is never overwritten
 * silently.
 */
export async function writeKey(
  set: string,
  kv: ResolvedKv,
  key: string,
  value: string,
  withLogin: WithLogin,
): Promise<{ version: number | null }> {
  if (kv.kvVersion === 1) {
    const data = await withLogin((c) => c.kv1Read(kv.mount, kv.path));
    if (!data) throw notFound(kv);
    assertHasKey(set, kv, data, key);
    await withLogin((c) => c.kv1Write(kv.mount, kv.path, { ...data, [key]: value }));
    return { version: null };
  }
  for (let attempt = 0; ; attempt++) {
    const meta = await withLogin((c) => c.kv2ReadMetadata(kv.mount, kv.path));
    const cur = meta ? await withLogin((c) => c.kv2Read(kv.mount, kv.path)) : null;
    if (!cur) throw notFound(kv);
    assertHasKey(set, kv, cur.data, key);
    const cas = meta?.current_version ?? 0;
    try {
      const written = await withLogin((c) =>
        c.kv2Write(kv.mount, kv.path, { ...(cur?.data ?? {}), [key]: value }, cas),
      );
      return { version: written.version };
    } catch (e) {
      const casLost =
        e instanceof VaultError && e.status === 400 && /check-and-set/i.test(e.message);
      if (!casLost || attempt >= 2) throw e;
    }
  }
}

/** Rotation replaces a value; adding a key is a change to the secret's shape, made in Vault. */
function assertHasKey(
  set: string,
  kv: ResolvedKv,
  data: Record<string, unknown>,
  key: string,
): void {
  if (!(key in data)) {
    throw new VaultConfigError(
      `set "${set}" has no key "${key}" at ${kv.readPath} (it has: ${Object.keys(data).join(", ")}); add new keys in Vault itself`,
    );
  }
}

export function notFound(kv: ResolvedKv): VaultError {
  return new VaultError({
    kind: "http",
    status: 404,
    method: "GET",
    path: kv.readPath,
    errors: [],
    warnings: [],
    hint: "nothing at this path (or its latest version is deleted): check `path` in the set's `vault:` block",
    attempts: 1,
  });
}
