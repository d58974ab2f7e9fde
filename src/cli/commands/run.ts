// `airlock run`: the pipeline of a local checkout, on the embedded defaults.
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { cpus, userInfo } from "node:os";
import path from "node:path";
import { StringDecoder } from "node:string_decoder";
import type { Command } from "commander";
import type { NamedExecutorConfig } from "../../config/executor-schema.js";
import { MAX_CONFIG_BYTES, tooLargeIssue } from "../../config/guard.js";
import { ConfigError, loadConfig, parseConfig } from "../../config/loader.js";
import type { Config } from "../../config/schema.js";
import type { ExecutorOverride } from "../../executors/select.js";
import type { CheckoutSource } from "../../executors/types.js";
import { FileTooLargeError } from "../../forge/types.js";
import type { LimitPolicy } from "../../pipeline/limits.js";
import { executeRun } from "../../pipeline/runner.js";
import { planPipeline, type Selection, SelectionError } from "../../pipeline/select.js";
import { isRestricted, type Plan } from "../../pipeline/types.js";
import { resolveDataDir } from "../../store/datadir.js";
import type { RunRepo } from "../../store/index.js";
import { lastLinesOf } from "../../store/log-text.js";
import { LogStore } from "../../store/logs.js";
import { UserError } from "../errors.js";
import type { JobApiServer } from "../job-api-server.js";
import { inspectRepo, type LocalRepo, readAtCommit } from "../local-repo.js";
import { openStoreFor } from "../open-store.js";
import { CONFIG_FILE, projectDirOf } from "../project-dir.js";
import { prepareRestrictedSide, type RestrictedSide } from "../restricted-side.js";
import { type BuiltRunnerDeps, createRunnerDeps, startHostChecks } from "../runner-deps.js";
import { plainView, planText, type RunView, resultJson, summaryText, ttyView } from "../view.js";

interface RunOptions {
  dir: string;
  dataDir?: string;
  labels?: string;
  job: string[];
  concurrency?: string;
  failFast?: boolean;
  dirty?: boolean;
  includeIgnored?: boolean;
  sandbox: boolean;
  plain?: boolean;
  plan?: boolean;
  json?: boolean;
  output?: boolean;
  config?: string;
  executor: string[];
  jobApiListen?: string;
  requireAllowlist?: boolean;
}

const localActor = () => `local:${userInfo().username}`;

export function newRunId(): string {
  const t = new Date().toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
  return `${t}-${randomBytes(3).toString("hex")}`;
}

/**
 * Loads the pipeline: from the commit being run, or from the working tree with --dirty. Says so
 * when the working tree's .airlock.yml differs from the committed one that runs.
 */
export async function loadPipeline(
  repo: LocalRepo,
  dirty: boolean,
  warn: (message: string) => void = (m) => process.stderr.write(`airlock: ${m}\n`),
): Promise<Config> {
  const file = path.join(repo.root, repo.subdir, CONFIG_FILE);
  const shown = path.relative(process.cwd(), file) || CONFIG_FILE;
  try {
    if (dirty) return loadConfig(file);
    let text: string | null;
    try {
      text = await readAtCommit(repo, CONFIG_FILE, { maxBytes: MAX_CONFIG_BYTES });
    } catch (e) {
      if (!(e instanceof FileTooLargeError)) throw e;
      throw new ConfigError([tooLargeIssue(shown, e.bytes)]);
    }
    if (text === null) {
      throw new UserError(
        `${path.join(repo.subdir, CONFIG_FILE) || CONFIG_FILE} is not in commit ${repo.sha.slice(0, 12)}: commit it, or run with --dirty to use the working tree`,
      );
    }
    const current = await readFile(file, "utf8").catch(() => null);
    if (current !== null && current !== text) {
      warn(
        `${shown} has uncommitted changes: running the one in commit ${repo.sha.slice(0, 12)} (commit your changes, or run with --dirty to use the working tree)`,
      );
    }
    return parseConfig(text, shown);
  } catch (e) {
    if (e instanceof ConfigError) throw new UserError(e.message);
    throw e;
  }
}

/** The named executors and job limits of a serve config (whose reader only `-c` needs). */
async function loadServeParts(file: string): Promise<{
  named: Record<string, NamedExecutorConfig>;
  limits: LimitPolicy;
}> {
  const { readServeExecutors, readServeLimits, ServeConfigError } = await import(
    "../../gateway/serve-config-file.js"
  );
  try {
    return { named: readServeExecutors(file), limits: readServeLimits(file).policy };
  } catch (e) {
    if (e instanceof ServeConfigError) throw new UserError(e.message);
    throw e;
  }
}

/** `--executor NAME`, `--executor public=NAME`, `--executor restricted=NAME`. */
export function executorOverride(values: string[]): ExecutorOverride {
  const o: ExecutorOverride = {};
  for (const v of values) {
    const m = /^(?:(public|restricted)=)?([a-z0-9][a-z0-9-]*)$/.exec(v);
    if (!m) {
      throw new UserError(
        `--executor ${JSON.stringify(v)}: write NAME, public=NAME or restricted=NAME (names use a-z, 0-9 and -)`,
      );
    }
    if (m[1] === "public") o.public = m[2]!;
    else if (m[1] === "restricted") o.restricted = m[2]!;
    else o.all = m[2]!;
  }
  return o;
}

export function registerRun(program: Command): void {
  program
    .command("run")
    .description("Run the pipeline of the current commit in sandboxes (public and restricted jobs)")
    .option("-C, --dir <dir>", "the project directory", ".")
    .option(
      "--data-dir <dir>",
      "where runs, logs and secrets live (default: $AIRLOCK_HOME or <project>/.airlock)",
    )
    .option(
      "--labels <labels>",
      "select tests as a PR's labels would, e.g. test-aws-infra,test-scw-all",
    )
    .option(
      "--job <name>",
      "run this job and what it needs (repeatable)",
      (v, a: string[]) => [...a, v],
      [],
    )
    .option("--concurrency <n>", "jobs at once (default: the number of cores)")
    .option("--fail-fast", "cancel the rest of the run after the first failure")
    .option(
      "--dirty",
      "run the working tree as it is, not the last commit (without what git ignores)",
    )
    .option(
      "--include-ignored",
      "with --dirty, copy what git ignores too (node_modules, build output)",
    )
    .option(
      "--no-sandbox",
      "run public jobs without bubblewrap (your own machine only; restricted jobs refuse)",
    )
    .option("--plan", "print what would run and why, and run nothing")
    .option("--plain", "one line per event instead of the live table")
    .option("--output", "also print each job's (redacted) output")
    .option("--json", "print the result as JSON")
    .option(
      "-c, --config <file>",
      "a serve config: its named executors, and its job limits (defaults and maximums)",
    )
    .option(
      "--executor <name>",
      "run every job on this executor, or one side with public=NAME / restricted=NAME (repeatable)",
      (v, a: string[]) => [...a, v],
      [],
    )
    .option(
      "--job-api-listen <host:port>",
      "where the job API listens for jobs running elsewhere (default 127.0.0.1, any port)",
    )
    .option(
      "--require-allowlist",
      "refuse restricted jobs that do not list where they connect (as a server requiring it would)",
    )
    .action(async (opts: RunOptions) => {
      process.exitCode = await runCommand(opts);
    });
}

async function runCommand(opts: RunOptions): Promise<number> {
  if (!opts.plan) startHostChecks(opts.sandbox);
  // From a subfolder, the nearest .airlock.yml above it (the repository root's, typically).
  const projectDir = projectDirOf(opts.dir);
  const repo = await inspectRepo(projectDir);
  if (projectDir !== path.resolve(opts.dir)) {
    process.stderr.write(
      `airlock: running the pipeline of ${path.join(path.relative(process.cwd(), projectDir) || ".", CONFIG_FILE)}\n`,
    );
  }
  const config = await loadPipeline(repo, Boolean(opts.dirty));
  const selection: Selection = {
    labels: opts.labels
      ?.split(",")
      .map((l) => l.trim())
      .filter(Boolean),
    jobs: opts.job,
  };
  let plan: ReturnType<typeof planPipeline>;
  try {
    plan = planPipeline(config, selection);
  } catch (e) {
    if (e instanceof SelectionError) throw new UserError(e.message);
    throw e;
  }
  if (opts.plan) {
    process.stdout.write(planText(plan.jobs, plan.reasons));
    return 0;
  }
  const concurrency = opts.concurrency ? Number(opts.concurrency) : cpus().length;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new UserError(
      `--concurrency must be a whole number of at least 1, not "${opts.concurrency}"`,
    );
  }

  // As git names it (symlinks resolved), the same directory `airlock serve` resolves.
  const gitProjectDir = path.join(repo.root, repo.subdir);
  const dataDir = opts.dataDir ? path.resolve(opts.dataDir) : resolveDataDir(gitProjectDir);
  const err = process.stderr;
  if (!opts.sandbox) {
    err.write(
      "airlock: --no-sandbox: public jobs run as you, with your files, your network and your environment's tools; restricted jobs will refuse to run.\n",
    );
  }
  if (opts.dirty && repo.dirty) err.write("airlock: --dirty: running uncommitted changes\n");
  if (opts.includeIgnored && !opts.dirty) {
    throw new UserError("--include-ignored goes with --dirty (a commit has no ignored files)");
  }

  // Everything opened from here on is closed in reverse order, whatever happens.
  const cleanups: (() => Promise<void>)[] = [];
  try {
    // The project's data directory is made on first use; a damaged one is refused, never replaced.
    const store = await openStoreFor({ dataDir, env: process.env, verify: true });
    cleanups.push(() => store.close());
    const runs = store.runs;
    const logs = new LogStore(dataDir);
    // With the server's config, its limits too: the same defaults and maximums as serve.
    const serve = opts.config ? await loadServeParts(opts.config) : null;
    const named = serve?.named ?? {};
    // Jobs that run elsewhere (a Kubernetes pod) fetch their source and secrets from Airlock; a
    // GitLab pipeline's jobs their ID tokens.
    let jobApi: JobApiServer | undefined;
    const gitlabTokens =
      config.executor?.gitlab !== undefined &&
      plan.jobs.some((j) => Object.keys(j.idTokens ?? {}).length > 0);
    if (gitlabTokens || Object.values(named).some((e) => e.kind === "kubernetes")) {
      const { startJobApiServer } = await import("../job-api-server.js");
      jobApi = await startJobApiServer(dataDir, opts.jobApiListen);
      cleanups.push(jobApi.close);
    }
    const deps = await createRunnerDeps({
      store,
      dataDir,
      config,
      sandbox: opts.sandbox,
      logs,
      jobs: plan.jobs,
      executors: named,
      ...(jobApi ? { jobApi: jobApi.jobApi } : {}),
      override: executorOverride(opts.executor),
      ...(opts.requireAllowlist ? { egress: { requireAllowlist: true } } : {}),
      ...(serve ? { limits: serve.limits } : {}),
    });
    cleanups.push(deps.close);
    const runId = newRunId();
    const ctrl = new AbortController();
    const side = await prepareRestrictedSide({
      config,
      plan,
      executorFor: deps.runner.executorFor,
      secrets: deps.secrets,
      runId,
      branch: repo.branch,
      signal: ctrl.signal,
    });
    cleanups.push(side.close);
    const suite = side.notes.suite as { ref: string; sha: string; matched: boolean } | undefined;
    if (suite) {
      err.write(
        `airlock: suite at ${suite.ref} (${suite.sha.slice(0, 12)})${suite.matched ? ", the branch matching this one" : ", the default ref"}\n`,
      );
    }
    return await execute({
      opts,
      config,
      repo,
      plan,
      selection,
      concurrency,
      runs,
      logs,
      deps,
      side,
      runId,
      ctrl,
    });
  } finally {
    for (const c of cleanups.reverse()) await c();
  }
}

interface ExecuteArgs {
  opts: RunOptions;
  config: Config;
  repo: LocalRepo;
  plan: Plan;
  selection: Selection;
  concurrency: number;
  runs: RunRepo;
  logs: LogStore;
  deps: BuiltRunnerDeps;
  side: RestrictedSide;
  runId: string;
  ctrl: AbortController;
}

async function execute(a: ExecuteArgs): Promise<number> {
  const { opts, repo, plan, runs, deps, side, runId, ctrl } = a;
  const err = process.stderr;
  const checkout: CheckoutSource = opts.dirty
    ? { kind: "dirty", dir: repo.root, includeIgnored: Boolean(opts.includeIgnored) }
    : { kind: "commit", repoDir: repo.root, sha: repo.sha };
  const live = !opts.json && !opts.plain && process.stdout.isTTY && !opts.output;
  const descriptions = Object.fromEntries(
    plan.jobs.flatMap((j) => (j.description ? [[j.id, j.description]] : [])),
  );
  const view: RunView = opts.json
    ? plainView(err, Boolean(opts.output), descriptions)
    : live
      ? ttyView(
          process.stdout,
          plan.jobs.map((j) => j.id),
          descriptions,
        )
      : plainView(process.stdout, Boolean(opts.output), descriptions);
  const decoder = new Map<string, StringDecoder>();

  let interrupts = 0;
  const onSignal = () => {
    interrupts++;
    if (interrupts === 1) {
      view.note(
        "airlock: cancelling: stopping every job and removing its workspace (Ctrl-C again to force)",
      );
      ctrl.abort();
    } else {
      void forceStop(runs, runId, view).finally(() => process.exit(130));
    }
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    const result = await executeRun(deps.runner, {
      runId,
      source: "local",
      repo: repo.name,
      // Your own checkout: its caches and artifacts are trusted ones (docs/security.md).
      trust: { repo: repo.name, trusted: true, pr: null },
      ref: repo.branch,
      sha: repo.sha,
      // Whoever runs restricted jobs locally vouches for them, as a trusted member would.
      authorizedBy: plan.jobs.some(isRestricted) ? localActor() : null,
      selection: a.selection,
      notes: {
        ...(opts.dirty ? { dirty: true } : {}),
        ...(repo.subdir ? { project: repo.subdir } : {}),
        ...side.notes,
        public_summary: a.config.public_summary,
      },
      restrictedMounts: side.mounts,
      restrictedEnv: side.env,
      // What ID tokens say: a local run, vouched for by whoever runs it.
      identity: {
        source: "local",
        repo: repo.name,
        pr: null,
        sha: repo.sha,
        baseRef: null,
        fork: false,
        authorization: "local",
        authorizedBy: `local:${userInfo().username}`,
        attempt: 1,
      },
      context: {
        approver: `local:${userInfo().username}`,
        labels: a.selection.labels ?? [],
        suite: side.suite,
      },
      checkout,
      workdir: repo.subdir,
      plan,
      concurrency: a.concurrency,
      failFast: opts.failFast,
      signal: ctrl.signal,
      onJobStart: (id) => view.start(id),
      onJobEnd: (id, o) => view.end(id, o.outcome, o.reason),
      onOutput: (id, chunk) => {
        const d = decoder.get(id) ?? new StringDecoder("utf8");
        decoder.set(id, d);
        view.output(id, d.write(chunk));
      },
    });
    view.close();
    const jobs = await runs.jobs(runId);
    const run = (await runs.get(runId))!;
    const last = await lastLinesOf(a.logs, runId, jobs);
    if (opts.json) {
      process.stdout.write(`${JSON.stringify(resultJson(run, jobs, last), null, 2)}\n`);
    } else process.stdout.write(`\n${summaryText(run, jobs, last)}`);
    return result.status === "passed" ? 0 : result.status === "cancelled" ? 130 : 1;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

/**
 * A second Ctrl-C: exit at once (the sandboxes die with Airlock, the workspaces are removed on
 * exit), but leave no job recorded or shown as running.
 */
async function forceStop(runs: RunRepo, runId: string, view: RunView): Promise<void> {
  try {
    for (const j of await runs.jobs(runId)) {
      if (j.state !== "running" && j.state !== "pending") continue;
      const reason = "stopped by a second Ctrl-C";
      await runs.updateJob(runId, j.job_id, { state: "cancelled", reason, finishedAt: Date.now() });
      view.end(j.job_id, "cancelled", reason);
    }
    await runs.setStatus(runId, "cancelled");
  } finally {
    view.close();
  }
}
