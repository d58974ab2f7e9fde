// A job's `cache:` as the local executor runs it: find its entry once the checkout is made,
// restore it before the job (once its home is made), save after its last process is gone. A
// cache problem is an `airlock: cache:` line in the log, never a job failure.
import {
  type CacheRoots,
  type Found,
  findCache,
  type Restored,
  restoreCache,
  saveCache,
} from "../../cache/job-cache.js";
import type { CacheStore } from "../../cache/store.js";
import type { JobIO, JobRequest } from "../types.js";
import { message } from "./job-text.js";

export interface CacheHooks {
  find(): Promise<Found | null>;
  /** `wrap` places the unpacking process (the job's cgroup). */
  restore(
    found: Found | null,
    home: string | null,
    wrap: (command: string[]) => string[],
  ): Promise<Restored | null>;
  save(restored: Restored, home: string | null): Promise<unknown>;
}

/** Find, restore and save of the job's cache, or null when it has none here. Never throws. */
export function cacheHooks(
  req: JobRequest & JobIO,
  store: CacheStore | undefined,
  dirs: Omit<CacheRoots, "home">,
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
    find: () => guarded("restored", () => findCache(store, spec, scope, dirs)),
    restore: async (found, home, wrap) =>
      found &&
      guarded("restored", () => restoreCache(store, spec, found, { ...dirs, home }, say, wrap)),
    save: (r, home) =>
      guarded("saved", () => saveCache(store, spec, scope, { ...dirs, home }, r, say)),
  };
}
