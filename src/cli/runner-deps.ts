// Builds the runner's dependencies from the embedded defaults: the bubblewrap executor, the
// secrets service over the configured backends, the redactor and the JUnit parser.
import type SQLite from "better-sqlite3";
import type { Config } from "../config/schema.js";
import { LocalExecutor } from "../executors/local/bwrap.js";
import { checkSandbox } from "../executors/local/check.js";
import { checkPrlimit } from "../executors/local/rlimits.js";
import { workspaceTempDir } from "../executors/local/workspace.js";
import { parseJUnitReport } from "../pipeline/junit.js";
import type { RunnerDeps } from "../pipeline/runner.js";
import { isRestricted } from "../pipeline/types.js";
import { createRedactor } from "../redact/redactor.js";
import { SecretsService } from "../secrets/grants.js";
import "../secrets/vault/register.js";
import { AuditLog } from "../store/audit.js";
import type { LogStore } from "../store/logs.js";
import type { RunStore } from "../store/runs.js";
import { UserError } from "./errors.js";

export interface RunnerDepsOptions {
  sqlite: SQLite.Database;
  dataDir: string;
  config: Config;
  /** false: public jobs run without bubblewrap (`--no-sandbox`). */
  sandbox: boolean;
  runs: RunStore;
  logs: LogStore;
  /** Jobs that will run, to refuse early when restricted ones cannot. */
  jobs: { secrets: string[] }[];
  env?: NodeJS.ProcessEnv;
  /** Recorded as the actor of secret releases (default "airlock run"). */
  actor?: string;
  /** Where redactor warnings go (default: stderr). */
  warn?: (message: string) => void;
}

export interface BuiltRunnerDeps {
  runner: RunnerDeps;
  secrets: SecretsService;
  close(): Promise<void>;
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
  const tempDir = workspaceTempDir(opts.env);
  const executor = new LocalExecutor({ sandbox: opts.sandbox, dataDir: opts.dataDir, tempDir });
  const secrets = new SecretsService({
    dataDir: opts.dataDir,
    sqlite: opts.sqlite,
    sets: opts.config.secrets,
    env: opts.env ?? process.env,
    audit: new AuditLog(opts.sqlite),
    actor: opts.actor ?? "airlock run",
  });
  const warned = new Set<string>();
  const runner: RunnerDeps = {
    runs: opts.runs,
    logs: opts.logs,
    executorFor: () => executor,
    grant: (job, ctx) => secrets.grantsFor(job, ctx),
    createRedactor: (values) => {
      const r = createRedactor({ secrets: values });
      for (const w of r.warnings) {
        if (!warned.has(w))
          (opts.warn ?? ((m) => process.stderr.write(`airlock: warning: ${m}\n`)))(w);
        warned.add(w);
      }
      return r;
    },
    parseReport: parseJUnitReport,
  };
  return {
    runner,
    secrets,
    close: () => executor.close(),
  };
}
