// Storage faults on demand: a part of the Store whose named methods fail their next calls, as a
// read-only or full disk makes the database fail, and a watch on what would otherwise end the
// process.
import assert from "node:assert/strict";

export const DISK_ERROR = "disk I/O error";

/**
 * `store` (a repository or queue of the Store), with the next `faults[method]` calls of each named
 * method rejecting. `failed` counts the failures injected so far, per method.
 */
export function failing<T extends object>(
  store: T,
  faults: Partial<Record<keyof T & string, number>>,
): { store: T; failed: Record<string, number> } {
  const left: Record<string, number> = { ...faults } as Record<string, number>;
  const failed: Record<string, number> = {};
  const proxy = new Proxy(store, {
    get(target, key, receiver) {
      const v = Reflect.get(target, key, receiver) as unknown;
      if (typeof v !== "function" || typeof key !== "string" || !(key in left)) return v;
      return (...args: unknown[]) => {
        if ((left[key] ?? 0) > 0) {
          left[key]!--;
          failed[key] = (failed[key] ?? 0) + 1;
          return Promise.reject(new Error(DISK_ERROR));
        }
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store: proxy, failed };
}

/** `store` with its part `key` (a repository or queue) replaced by `part`, e.g. a `failing` one. */
export function withPart<S extends object, K extends keyof S>(store: S, key: K, part: S[K]): S {
  return new Proxy(store, {
    get: (target, k, receiver) => (k === key ? part : Reflect.get(target, k, receiver)),
  });
}

/** Collects rejections nobody handled (each would end `airlock serve`) until `stop()`. */
export function watchUnhandled(): { stop(): void; assertNone(): void } {
  const seen: unknown[] = [];
  const on = (e: unknown) => seen.push(e);
  process.on("unhandledRejection", on);
  return {
    stop: () => process.off("unhandledRejection", on),
    assertNone: () => assert.deepEqual(seen.map(String), [], "a rejection nobody handled"),
  };
}
