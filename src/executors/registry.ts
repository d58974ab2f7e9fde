// Builds the executors a run can use: the local sandbox always, the GitLab pipeline when
// `.airlock.yml` configures `executor.gitlab`, and the executors the serve config names. The only
// place that knows every kind.
import type { NamedExecutorConfig } from "../config/executor-schema.js";
import type { Config } from "../config/schema.js";
import type { JobApi } from "../jobapi/job-api.js";
import { GitLabExecutor } from "./gitlab/executor.js";
import { KubernetesExecutor } from "./kubernetes/executor.js";
import { LocalExecutor, type LocalExecutorOptions } from "./local/executor.js";
import type { Executor } from "./types.js";

export type Forbid = NamedExecutorConfig["forbid"];

export interface ExecutorsOptions {
  /** The pipeline definition (its restricted part from the trusted base). */
  config: Config;
  /** Airlock's data directory: hidden from sandboxes, holds the dispatch key. */
  dataDir: string;
  /** Options of the local executor. */
  local?: Omit<LocalExecutorOptions, "dataDir" | "name">;
  /** Executors the serve config names. */
  named?: Record<string, NamedExecutorConfig>;
  /** Airlock's job API, which jobs off this machine fetch their source and secrets from. */
  jobApi?: JobApi;
}

export interface Executors {
  /** Every executor by name. */
  readonly byName: ReadonlyMap<string, Executor>;
  /** What the serve config forbids on each. */
  readonly forbid: ReadonlyMap<string, Forbid>;
  /** Releases what any of them keeps across runs. */
  close(): Promise<void>;
}

export function createExecutors(o: ExecutorsOptions): Executors {
  const local = (name: string) => new LocalExecutor({ ...o.local, dataDir: o.dataDir, name });
  const byName = new Map<string, Executor>([["local", local("local")]]);
  const forbid = new Map<string, Forbid>();
  const gitlab = o.config.executor?.gitlab;
  if (gitlab) {
    byName.set(
      "gitlab",
      new GitLabExecutor({
        config: gitlab,
        dataDir: o.dataDir,
        ...(o.jobApi ? { jobApi: o.jobApi } : {}),
      }),
    );
  }
  for (const [name, c] of Object.entries(o.named ?? {})) {
    forbid.set(name, c.forbid);
    if (c.kind === "local") {
      byName.set(name, name === "local" ? byName.get("local")! : local(name));
    } else {
      if (!o.jobApi)
        throw new Error(`executor ${name}: Kubernetes executors need Airlock's job API`);
      byName.set(name, new KubernetesExecutor({ name, config: c, jobApi: o.jobApi }));
    }
  }
  return {
    byName,
    forbid,
    close: async () => {
      for (const e of new Set(byName.values())) await e.close?.();
    },
  };
}
