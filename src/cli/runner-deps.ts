// Builds the runner's dependencies from the embedded defaults: the executors the pipeline can use
// (the bubblewrap sandbox, what `.airlock.yml` configures, what the serve config names), the
// secrets service over the configured backends, the redactor and the JUnit parser.
import path from "node:path";
import { ArtifactStore, artifactLimits } from "../artifacts/store.js";
import { CacheStore, cacheBudget } from "../cache/store.js";
import type { NamedExecutorConfig } from "../config/executor-schema.js";
import type { Config } from "../config/schema.js";
import type { EgressRequirements } from "../egress/require.js";
import { cgroupsHere } from "../executors/local/bounds.js";
import { checkSandbox } from "../executors/local/check.js";
import { checkPrlimit } from "../executors/local/rlimits.js";
import { workspaceTempDir } from "../executors/local/workspace.js";
import { createExecutors } from "../executors/registry.js";
import { type ExecutorOverride, executorSelector, sweepers } from "../executors/select.js";
import type { Executor } from "../executors/types.js";
import type { JobApi } from "../jobapi/job-api.js";
import type { LimitPolicy } from "../pipeline/limits.js";
import type { RunnerDeps } from "../pipeline/runner.js";
import { isRestricted, type PlannedJob } from "../pipeline/types.js";
import { createRedactor } from "../redact/redactor.js";
import { EmbeddedStore } from "../secrets/embedded.js";
import { NO_ISSUER, SecretsService } from "../secrets/grants.js";
import type { IdTokenIssuer } from "../secrets/oidc/issuer.js";
import "../secrets/vault/register.js";
import { belowReserve } from "../store/disk-reserve.js";
import type { Store } from "../store/index.js";
import type { LogStore } from "../store/logs.js";
import { UserError } from "./errors.js";

export interface RunnerDepsOptions {
  /** Runs, sealed secrets and the audit log. */
  store: Store;
  dataDir: string;
  config: Config;
  /** false: public jobs run without bubblewrap (`--no-sandbox`). */
  sandbox: boolean;
  logs: LogStore;
  /** Jobs that will run, to refuse early when restricted ones cannot. */
  jobs: Pick<PlannedJob, "id" | "secrets" | "idTokens">[];
  env?: NodeJS.ProcessEnv;
  /** Recorded as the actor of secret releases (default "airlock run"). */
  actor?: string;
  /** Where redactor warnings go (default: stderr). */
  warn?: (message: string) => void;
  /** The OIDC issuer URL (`airlock serve`'s public URL); default: AIRLOCK_PUBLIC_URL. */
  issuer?: string;
  /** Executors the serve config names. */
  executors?: Record<string, NamedExecutorConfig>;
  /** Airlock's job API, for executors whose jobs run elsewhere. */
  jobApi?: JobApi;
  /** Whether the run's commit is authorized (default true: your own checkout). */
  authorized?: boolean;
  /** `airlock run --executor`. */
  override?: ExecutorOverride;
  /** What jobs' network must be (the serve config's `egress`, `airlock run --require-allowlist`). */
  egress?: EgressRequirements;
  /** Jobs' default and maximum limits (default: the built-in defaults, no maximum). */
  limits?: LimitPolicy;
  /** Public jobs refuse to run without cgroup memory and process limits (`airlock serve`). */
  requireCgroups?: boolean;
  /** Free space kept on the data directory's disk: no job starts below it (default: none). */
  diskReserveBytes?: number;
}

export interface BuiltRunnerDeps {
  runner: RunnerDeps;
  secrets: SecretsService;
  /** The executors the pipeline's restricted jobs may leave work on (see Executor.sweep). */
  sweepers: Executor[];
  close(): Promise<void>;
}

/**
 * Starts this machine's checks (bubblewrap, prlimit, cgroups) in the background: each runs once
 * per process and is awaited where it is needed, so they overlap reading the repository and
 * opening the store instead of adding to them.
 */
export function startHostChecks(sandbox: boolean): void {
  // A failure is reported where the result is awaited; here it is only not left unhandled.
  const quiet = () => {};
  if (sandbox) checkSandbox().catch(quiet);
  checkPrlimit().catch(quiet);
  cgroupsHere().catch(quiet);
}

export async function createRunnerDeps(opts: RunnerDepsOptions): Promise<BuiltRunnerDeps> {
  // Every job needs a working bubblewrap, except public ones under --no-sandbox: say so before
  // anything runs. Under --no-sandbox jobs are plain processes and the executor refuses
  // restricted ones.
  const restricted = opts.jobs.some(isRestricted);
  if (opts.sandbox || restricted) {
    const check = await checkSandbox();
    if (!check.ok) {
      throw new UserError(
        opts.sandbox
          ? `${check.message} (or, on your own machine, run public jobs with --no-sandbox)`
          : `restricted jobs need the bubblewrap sandbox: ${check.message}`,
      );
    }
  }
  // Every job, sandboxed or not, runs under prlimit (core dumps off).
  const limits = await checkPrlimit();
  if (!limits.ok) throw new UserError(limits.message);
  const tokenJob = opts.jobs.find((j) => Object.keys(j.idTokens ?? {}).length > 0);
  if (tokenJob && !(opts.issuer ?? (opts.env ?? process.env).AIRLOCK_PUBLIC_URL)) {
    throw new UserError(`job ${tokenJob.id} declares id_tokens: ${NO_ISSUER}`);
  }
  const tempDir = workspaceTempDir(opts.env);
  const env = opts.env ?? process.env;
  // A setting of the environment that does not parse is the user's to fix: one clear message.
  const setting = <T>(read: (env: NodeJS.ProcessEnv) => T): T => {
    try {
      return read(env);
    } catch (e) {
      throw new UserError((e as Error).message);
    }
  };
  const executors = createExecutors({
    config: opts.config,
    dataDir: opts.dataDir,
    local: {
      sandbox: opts.sandbox,
      tempDir,
      requireCgroups: opts.requireCgroups ?? false,
      cache: new CacheStore(path.join(opts.dataDir, "cache"), setting(cacheBudget)),
    },
    ...(opts.executors ? { named: opts.executors } : {}),
    ...(opts.jobApi ? { jobApi: opts.jobApi } : {}),
  });
  const secrets = new SecretsService({
    dataDir: opts.dataDir,
    store: opts.store,
    sets: opts.config.secrets,
    env,
    actor: opts.actor ?? "airlock run",
    ...(await idTokenSettings(opts, env)),
  });
  const warned = new Set<string>();
  const runner: RunnerDeps = {
    runs: opts.store.runs,
    logs: opts.logs,
    executorFor: executorSelector(opts.config, executors, {
      authorized: opts.authorized ?? true,
      ...(opts.override ? { override: opts.override } : {}),
    }),
    grant: (job, ctx) => secrets.grantsFor(job, ctx),
    grantSet: (set, ctx) => secrets.grantSet(set, ctx),
    createRedactor: (values) => {
      const r = createRedactor({ secrets: values });
      for (const w of r.warnings) {
        if (!warned.has(w))
          (opts.warn ?? ((m) => process.stderr.write(`airlock: warning: ${m}\n`)))(w);
        warned.add(w);
      }
      return r;
    },
    // The XML parser is loaded by the first report, not by every run.
    parseReport: async (xml) => (await import("../pipeline/junit.js")).parseJUnit(xml),
    artifacts: new ArtifactStore(path.join(opts.dataDir, "artifacts"), setting(artifactLimits)),
    ...(opts.egress ? { egress: opts.egress } : {}),
    ...(opts.limits ? { limits: opts.limits } : {}),
    ...(opts.diskReserveBytes
      ? { refuseStart: () => belowReserve(opts.dataDir, opts.diskReserveBytes ?? 0) }
      : {}),
  };
  return {
    runner,
    secrets,
    sweepers: sweepers(opts.config, executors),
    close: () => executors.close(),
  };
}

/** The issuer for ID tokens, when its URL is known (its signing library is loaded only then). */
async function idTokenSettings(
  opts: RunnerDepsOptions,
  env: NodeJS.ProcessEnv,
): Promise<{ idTokens?: { issuer: IdTokenIssuer; sub: string } }> {
  const raw = opts.issuer ?? env.AIRLOCK_PUBLIC_URL;
  if (!raw) return {};
  const [{ parseIssuer }, { IdTokenIssuer }, { OidcKeyStore }] = await Promise.all([
    import("../secrets/oidc/discovery.js"),
    import("../secrets/oidc/issuer.js"),
    import("../secrets/oidc/keys.js"),
  ]);
  let url: string;
  try {
    url = parseIssuer(raw, opts.issuer ? "the public URL" : "AIRLOCK_PUBLIC_URL");
  } catch (e) {
    throw new UserError((e as Error).message);
  }
  const sealer = new EmbeddedStore({ dataDir: opts.dataDir, store: opts.store, env });
  const keys = new OidcKeyStore({ db: opts.store, store: sealer });
  return {
    idTokens: {
      issuer: new IdTokenIssuer({ issuer: url, keys }),
      sub: opts.config.oidc.sub,
    },
  };
}
