// Builds the executors a pipeline definition can use: the local sandbox always, and the GitLab
// pipeline when `.airlock.yml` configures `executor.gitlab`. The only place that knows every kind.
import type { Config } from "../config/schema.js";
import { GitLabExecutor } from "./gitlab/executor.js";
import { LocalExecutor, type LocalExecutorOptions } from "./local/bwrap.js";
import type { Executor } from "./types.js";

export interface ExecutorsOptions {
  /** The pipeline definition (its restricted part from the trusted base). */
  config: Config;
  /** Airlock's data directory: hidden from sandboxes, holds the dispatch key. */
  dataDir: string;
  /** Options of the local executor. */
  local?: Omit<LocalExecutorOptions, "dataDir">;
}

export interface Executors {
  /** Every executor by name. */
  readonly byName: ReadonlyMap<string, Executor>;
  /** Releases what any of them keeps across runs. */
  close(): Promise<void>;
}

export function createExecutors(o: ExecutorsOptions): Executors {
  const all: Executor[] = [new LocalExecutor({ ...o.local, dataDir: o.dataDir })];
  const gitlab = o.config.executor?.gitlab;
  if (gitlab) all.push(new GitLabExecutor({ config: gitlab, dataDir: o.dataDir }));
  return {
    byName: new Map(all.map((e) => [e.name, e])),
    close: async () => {
      for (const e of all) await e.close?.();
    },
  };
}
