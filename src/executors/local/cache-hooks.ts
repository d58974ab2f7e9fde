// A job's `cache:` as the local executor runs it: restore before the job, save after its last
// process is gone. A cache problem is an `airlock: cache:` line in the log, never a job failure.
import { type CacheRoots, type Restored, restoreCache, saveCache } from "../../cache/job-cache.js";
import type { CacheStore } from "../../cache/store.js";
import type { JobIO, JobRequest } from "../types.js";
import { message } from "./job-text.js";

export interface CacheHooks {
  restore(): Promise<Restored | null>;
  save(restored: Restored): Promise<unknown>;
}

/** Restore and save of the job's cache, or null when it has none here. Never throws. */
export function cacheHooks(
  req: JobRequest & JobIO,
  store: CacheStore | undefined,
  roots: CacheRoots,
): CacheHooks | null {
  const { cache: spec } = req.job;
  const scope = req.cacheScope;
  if (!spec || !store || !scope) return null;
  const say = (line: string) => {
    if (req.output.writable) req.output.write(`airlock: ${line}\n`);
  };
  const guarded = async <T>(what: string, fn: () => Promise<T>): Promise<T | null> => {
    try {
      return await fn();
    } catch (e) {
      say(`cache: not ${what}: ${message(e)}`);
      return null;
    }
  };
  return {
    restore: () => guarded("restored", () => restoreCache(store, spec, scope, roots, say)),
    save: (r) => guarded("saved", () => saveCache(store, spec, scope, roots, r, say)),
  };
}
