// Restores a job's cache before it runs and saves it after, on the executor's side of the
// sandbox: the job is over (every process of it gone) before anything of it is read.
import { lstat, realpath, rm } from "node:fs/promises";
import path from "node:path";
import { pack, unpack } from "./archive.js";
import { renderKey } from "./key.js";
import type { CacheScope } from "./scope.js";
import type { CacheStore, StoredEntry, Unpacked } from "./store.js";

/** A job's `cache:` as planned. */
export interface CacheSpec {
  /** Key template, e.g. npm-{{ hash "package-lock.json" }}. */
  key: string;
  /** Prefixes tried, in order, when no entry has the key. */
  restoreKeys: string[];
  /** "~/.npm" (in the job's home) or "node_modules" (relative to the job's directory). */
  paths: string[];
}

export interface CacheRoots {
  /** The checkout's root: key files and cached paths never leave it. */
  checkout: string;
  /** Where the job starts, inside the checkout. */
  dir: string;
  /** The job's home on the host, when it has one there. */
  home: string | null;
}

/** The paths of a spec, split by root, each relative to it ("~/.npm" → home ".npm"). */
export function splitPaths(paths: string[]): { home: string[]; work: string[] } {
  const home = paths.filter((p) => p.startsWith("~/")).map((p) => path.posix.normalize(p.slice(2)));
  const work = paths.filter((p) => !p.startsWith("~/")).map((p) => path.posix.normalize(p));
  return { home, work };
}

const ARCHIVES = { work: "work.tar.gz", home: "home.tar.gz" } as const;

/** What a restore found: the rendered key, and whether an entry had exactly that key. */
export interface Restored {
  key: string;
  exact: boolean;
}

/** The entry a job's restore will use (null: none), found before its home is made. */
export interface Found {
  key: string;
  hit: { entry: StoredEntry; exact: boolean } | null;
  /** When the search began (the restore's time counts from it). */
  t0: number;
}

export async function findCache(
  store: CacheStore,
  spec: CacheSpec,
  scope: CacheScope,
  roots: Pick<CacheRoots, "checkout" | "dir">,
): Promise<Found> {
  const t0 = performance.now();
  const key = await renderKey(spec.key, roots.dir, roots.checkout);
  return { key, hit: await store.find(scope.reads, key, spec.restoreKeys), t0 };
}

/** Unpacks what `findCache` found into the job's directories; `wrap` places tar (see unpack). */
export async function restoreCache(
  store: CacheStore,
  spec: CacheSpec,
  found: Found,
  roots: CacheRoots,
  say: (line: string) => void,
  wrap?: (command: string[]) => string[],
): Promise<Restored> {
  const { key, hit } = found;
  if (!hit) {
    say(`cache: no entry for ${key}`);
    return { key, exact: false };
  }
  const { home, work } = splitPaths(spec.paths);
  const refused: string[] = [];
  const from = (name: string, into: string) => unpackIf(hit.entry.dir, name, into, wrap);
  if (work.length) refused.push(...(await from(ARCHIVES.work, roots.dir)));
  if (home.length && roots.home) refused.push(...(await from(ARCHIVES.home, roots.home)));
  await store.touch(hit.entry);
  const by = hit.entry.namespace.slice(hit.entry.namespace.lastIndexOf("/") + 1);
  say(
    `cache: restored ${hit.entry.key} (${hit.exact ? "exact key" : "restore key"}, saved by ${by}, ${mib(hit.entry.size)}) in ${secs(found.t0)}`,
  );
  for (const r of refused) say(`cache: not restored: ${r}`);
  return { key, exact: hit.exact };
}

async function unpackIf(
  dir: string,
  name: string,
  into: string,
  wrap?: (command: string[]) => string[],
): Promise<string[]> {
  const file = path.join(dir, name);
  if (!(await lstat(file).catch(() => null))) return [];
  return unpack(file, into, wrap);
}

/**
 * Saves the cached paths under `key`, where the scope allows. Paths that are missing are passed
 * over; a path reached through a symlink (a directory of the checkout linked to /home/you) is
 * refused, and links leaving their root are not saved.
 */
export async function saveCache(
  store: CacheStore,
  spec: CacheSpec,
  scope: CacheScope,
  roots: CacheRoots,
  restored: Restored,
  say: (line: string) => void,
): Promise<void> {
  if (restored.exact) return say(`cache: ${restored.key} was restored exactly: not saved again`);
  if (!scope.writes) return say(`cache: not saved: ${scope.why}`);
  const t0 = performance.now();
  const { home, work } = splitPaths(spec.paths);
  const staged = await store.staging();
  const dropped: string[] = [];
  const unpacked: Unpacked = {};
  const groups: [string[], string | null, keyof typeof ARCHIVES][] = [
    [work, roots.dir, "work"],
    [home, roots.home, "home"],
  ];
  let any = false;
  for (const [rels, root, part] of groups) {
    if (!root || rels.length === 0) continue;
    const present: string[] = [];
    for (const rel of rels) {
      const why = await confined(root, rel);
      if (why === "missing") continue;
      if (why) {
        say(`cache: ${rel} not saved: ${why}`);
        continue;
      }
      present.push(rel);
    }
    if (present.length === 0) continue;
    const packed = await pack(root, present, path.join(staged, ARCHIVES[part]));
    dropped.push(...packed.dropped);
    unpacked[part] = packed.bytes;
    any = true;
  }
  for (const d of dropped) say(`cache: not saved: ${d} is a symlink leading out of its directory`);
  if (!any) {
    await rm(staged, { recursive: true, force: true });
    return say("cache: nothing to save (no cached path exists)");
  }
  const refused = await store.commit(staged, scope.writes, restored.key, unpacked);
  say(refused ? `cache: not saved: ${refused}` : `cache: saved ${restored.key} in ${secs(t0)}`);
}

/** null when `rel` is reachable inside `root` without following a symlink; else why not. */
async function confined(root: string, rel: string): Promise<string | null> {
  const full = path.join(root, rel);
  if (!(await lstat(full).catch(() => null))) return "missing";
  const realRoot = await realpath(root);
  const parent = await realpath(path.dirname(full)).catch(() => null);
  if (parent !== path.join(realRoot, path.dirname(rel))) {
    return "it is reached through a symlink";
  }
  return null;
}

const secs = (t0: number) => `${((performance.now() - t0) / 1000).toFixed(1)}s`;
const mib = (n: number) => `${(n / 1024 ** 2).toFixed(1)} MiB`;
