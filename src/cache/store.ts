// The cache store: compressed entries under the data directory, one directory per entry holding
// its archives and a small manifest (entry.json), each made aside and renamed into place, so a
// reader never sees half an entry. Entries are immutable (a saved key is never overwritten, as
// in GitHub Actions); the least recently used go first when the store is over its budget.
import { createHash, randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { sizeStringBytes } from "../config/size.js";

export interface EntryManifest {
  namespace: string;
  key: string;
  /** Bytes of the entry's archives. */
  size: number;
  /** Bytes of the files in each archive once unpacked (entries saved before it was kept: absent). */
  unpacked?: Unpacked;
  created: number;
  lastUsed: number;
}

export interface Unpacked {
  work?: number;
  home?: number;
}

export interface StoredEntry extends EntryManifest {
  dir: string;
}

/** Default size budget of the whole store: 5 GiB (AIRLOCK_CACHE_SIZE). */
export const DEFAULT_CACHE_BUDGET = 5 * 1024 ** 3;

export class CacheStore {
  constructor(
    readonly dir: string,
    readonly budgetBytes: number = DEFAULT_CACHE_BUDGET,
  ) {}

  #nsDir(namespace: string): string {
    return path.join(this.dir, createHash("sha256").update(namespace).digest("hex").slice(0, 24));
  }

  /** Every entry of `namespace`, newest first. */
  async entries(namespace: string): Promise<StoredEntry[]> {
    const nsDir = this.#nsDir(namespace);
    const names = await readdir(nsDir).catch(() => [] as string[]);
    const out: StoredEntry[] = [];
    for (const name of names) {
      const m = await readManifest(path.join(nsDir, name));
      if (m && m.namespace === namespace) out.push(m);
    }
    return out.sort((a, b) => b.created - a.created);
  }

  /**
   * The entry a restore uses: `key` itself in the first namespace that has it, else the newest
   * entry whose key starts with the first restore key that matches anything, namespace by
   * namespace in order.
   */
  async find(
    namespaces: string[],
    key: string,
    restoreKeys: string[],
  ): Promise<{ entry: StoredEntry; exact: boolean } | null> {
    const lists = await Promise.all(namespaces.map((ns) => this.entries(ns)));
    for (const list of lists) {
      const e = list.find((x) => x.key === key);
      if (e) return { entry: e, exact: true };
    }
    for (const prefix of restoreKeys) {
      for (const list of lists) {
        const e = list.find((x) => x.key.startsWith(prefix));
        if (e) return { entry: e, exact: false };
      }
    }
    return null;
  }

  /** Marks an entry used now (for eviction); a vanished entry is ignored. */
  async touch(entry: StoredEntry): Promise<void> {
    const m: EntryManifest = { ...manifestOf(entry), lastUsed: Date.now() };
    await writeAtomic(path.join(entry.dir, "entry.json"), JSON.stringify(m)).catch(() => {});
  }

  /** A fresh private directory to build an entry in, then `commit` it. */
  async staging(): Promise<string> {
    const dir = path.join(this.dir, "tmp", randomBytes(8).toString("hex"));
    await mkdir(dir, { recursive: true, mode: 0o700 });
    return dir;
  }

  /**
   * Moves a built entry into place and evicts the least recently used entries over the budget.
   * Returns why it was not stored (already saved, larger than the whole budget), or null.
   */
  async commit(
    staged: string,
    namespace: string,
    key: string,
    unpacked: Unpacked = {},
  ): Promise<string | null> {
    try {
      const size = await sizeOf(staged);
      if (size > this.budgetBytes) {
        return `the cache is ${mib(size)}, more than the whole cache budget (${mib(this.budgetBytes)}, AIRLOCK_CACHE_SIZE)`;
      }
      const now = Date.now();
      const m: EntryManifest = { namespace, key, size, unpacked, created: now, lastUsed: now };
      await writeFile(path.join(staged, "entry.json"), JSON.stringify(m), { mode: 0o600 });
      const nsDir = this.#nsDir(namespace);
      await mkdir(nsDir, { recursive: true, mode: 0o700 });
      try {
        await rename(staged, path.join(nsDir, key));
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === "ENOTEMPTY" || code === "EEXIST") return `key ${key} was already saved`;
        throw e;
      }
      await this.evict(path.join(nsDir, key));
      return null;
    } finally {
      await rm(staged, { recursive: true, force: true });
    }
  }

  /** Removes least recently used entries until the store fits its budget; `keep` stays. */
  async evict(keep?: string): Promise<void> {
    const all: StoredEntry[] = [];
    for (const ns of await readdir(this.dir).catch(() => [] as string[])) {
      if (ns === "tmp") continue;
      for (const name of await readdir(path.join(this.dir, ns)).catch(() => [] as string[])) {
        const m = await readManifest(path.join(this.dir, ns, name));
        if (m) all.push(m);
      }
    }
    let total = all.reduce((n, e) => n + e.size, 0);
    for (const e of all.sort((a, b) => a.lastUsed - b.lastUsed)) {
      if (total <= this.budgetBytes) break;
      if (e.dir === keep) continue;
      // Renamed away first: a restore never reads an entry half removed.
      const trash = path.join(this.dir, "tmp", `evict-${randomBytes(8).toString("hex")}`);
      await mkdir(path.dirname(trash), { recursive: true });
      if (
        await rename(e.dir, trash).then(
          () => true,
          () => false,
        )
      ) {
        await rm(trash, { recursive: true, force: true });
        total -= e.size;
      }
    }
  }
}

async function readManifest(dir: string): Promise<StoredEntry | null> {
  try {
    const m = JSON.parse(await readFile(path.join(dir, "entry.json"), "utf8")) as EntryManifest;
    return { ...m, dir };
  } catch {
    return null; // half made or half removed: not an entry
  }
}

function manifestOf(e: StoredEntry): EntryManifest {
  return {
    namespace: e.namespace,
    key: e.key,
    size: e.size,
    ...(e.unpacked ? { unpacked: e.unpacked } : {}),
    created: e.created,
    lastUsed: e.lastUsed,
  };
}

async function writeAtomic(file: string, text: string): Promise<void> {
  const tmp = `${file}.${randomBytes(4).toString("hex")}`;
  await writeFile(tmp, text, { mode: 0o600 });
  await rename(tmp, file);
}

async function sizeOf(dir: string): Promise<number> {
  let n = 0;
  for (const f of await readdir(dir)) n += (await stat(path.join(dir, f))).size;
  return n;
}

const mib = (n: number) => `${(n / 1024 ** 2).toFixed(1)} MiB`;

/** The store's budget from AIRLOCK_CACHE_SIZE ("10GB", "512MiB"), else the default. */
export function cacheBudget(env: NodeJS.ProcessEnv): number {
  const v = env.AIRLOCK_CACHE_SIZE;
  if (!v) return DEFAULT_CACHE_BUDGET;
  const n = sizeStringBytes(v);
  if (n === null || n <= 0) {
    throw new Error(
      `AIRLOCK_CACHE_SIZE=${JSON.stringify(v)} is not a size: write it like 10GB or 512MiB`,
    );
  }
  return n;
}
