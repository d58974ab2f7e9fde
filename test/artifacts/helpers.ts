// Runs a pipeline of a throwaway project in-process as the gateway or `airlock run` would: the
// real runner, the real bubblewrap executor, the project's SQLite store and embedded secrets, with
// the run's trust chosen by the test (a pull request's run is untrusted).
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import type { ArtifactLimits } from "../../src/artifacts/store.js";
import { ArtifactStore, DEFAULT_ARTIFACT_LIMITS } from "../../src/artifacts/store.js";
import type { CacheTrust } from "../../src/cache/scope.js";
import { createRunnerDeps } from "../../src/cli/runner-deps.js";
import { parseConfig } from "../../src/config/loader.js";
import { planRequest } from "../../src/gateway/decide.js";
import { executeRun } from "../../src/pipeline/runner.js";
import { openStore } from "../../src/store/index.js";
import { LogStore } from "../../src/store/logs.js";
import { git, type Project } from "../support/project.js";

export const TRUSTED: CacheTrust = { repo: "acme/app", trusted: true, pr: null };
export const PR: CacheTrust = { repo: "acme/app", trusted: false, pr: 7 };

export interface Ran {
  runId: string;
  states: Record<string, string>;
  log(job: string): string;
  store: ArtifactStore;
}

/** Runs the committed `.airlock.yml` of `p` at HEAD with `trust`. */
export async function runPipeline(
  p: Project,
  trust: CacheTrust,
  limits: Partial<ArtifactLimits> = {},
): Promise<Ran> {
  const yaml = readFileSync(path.join(p.repo, ".airlock.yml"), "utf8");
  const config = parseConfig(yaml, ".airlock.yml");
  const { plan } = planRequest(config, "full", null, true);
  const db = await openStore({ dataDir: p.dataDir });
  const logs = new LogStore(p.dataDir);
  const store = new ArtifactStore(path.join(p.dataDir, "artifacts"), {
    ...DEFAULT_ARTIFACT_LIMITS,
    ...limits,
  });
  const runId = `run-${randomBytes(4).toString("hex")}`;
  const built = await createRunnerDeps({
    store: db,
    dataDir: p.dataDir,
    config,
    sandbox: true,
    logs,
    jobs: plan.jobs,
    env: p.env(),
  });
  try {
    await executeRun(
      { ...built.runner, artifacts: store },
      {
        runId,
        source: "test",
        repo: trust.repo,
        ref: "main",
        sha: git(p.repo, "rev-parse", "HEAD"),
        pr: trust.pr,
        checkout: { kind: "commit", repoDir: p.repo, sha: git(p.repo, "rev-parse", "HEAD") },
        plan,
        concurrency: 2,
        trust,
      },
    );
    const states = Object.fromEntries((await db.runs.jobs(runId)).map((j) => [j.job_id, j.state]));
    return {
      runId,
      states,
      store,
      log: (job) => readFileSync(logs.pathOf(runId, job), "utf8"),
    };
  } finally {
    await built.close();
    await db.close();
  }
}
