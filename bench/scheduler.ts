// 200 no-op jobs on a small repository through plan + schedule + workspace + sandbox + redactor +
// log store, per job, beside a bare `sh -c true` spawn and a bare `bwrap … true` measured in the
// same run. Sequential (concurrency 1) gives Airlock's per-job overhead over bare bubblewrap;
// concurrency 2 shows whether both cores are kept busy.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import path from "node:path";
import { parseConfig } from "../src/config/loader.js";
import { LocalExecutor } from "../src/executors/local/executor.js";
import { parseJUnit } from "../src/pipeline/junit.js";
import {
  type CoreLimits,
  DEFAULT_LIMITS,
  type LimitPolicy,
  LOCAL_POLICY,
} from "../src/pipeline/limits.js";
import { executeRun } from "../src/pipeline/runner.js";
import { planPipeline } from "../src/pipeline/select.js";
import { createRedactor } from "../src/redact/redactor.js";
import { openStore } from "../src/store/index.js";
import { LogStore } from "../src/store/logs.js";
import { measureBareBwrapInCgroup, measureCgroupSetup } from "./cgroup-baselines.js";
import { busyWhile, makeBenchRepo, measureBareBwrap, measureShSpawn } from "./sandbox-baselines.js";
import type { BenchResult } from "./types.js";

const JOBS = Number(process.env.AIRLOCK_BENCH_JOBS ?? 200);

/** Without memory, process, CPU and disk limits: every job as it ran before cgroups. */
const NO_CGROUP_LIMITS = (() => {
  const strip = ({ memoryBytes, processes, cpus, diskBytes, ...rest }: CoreLimits) => rest;
  return {
    public: strip(DEFAULT_LIMITS.public),
    restricted: strip(DEFAULT_LIMITS.restricted),
    max: {},
  } as unknown as LimitPolicy;
})();

async function runPipeline(
  dir: string,
  repo: string,
  sha: string,
  concurrency: number,
  o: { tempDir?: string; limits?: boolean } = {},
) {
  const tempDir = o.tempDir;
  const values = Array.from({ length: JOBS }, (_, i) => `${i}`);
  const config = parseConfig(
    `version: 1\njobs:\n  noop:\n    matrix: { n: [${values.join(", ")}] }\n    run: "true"\n`,
    "bench.yml",
  );
  const plan = planPipeline(config);
  const dataDir = mkdtempSync(path.join(dir, "data-"));
  const db = await openStore({ dataDir });
  const executor = new LocalExecutor({ dataDir, tempDir });
  try {
    const t0 = performance.now();
    const result = await executeRun(
      {
        runs: db.runs,
        logs: new LogStore(dataDir),
        executorFor: () => executor,
        grant: async () => [],
        createRedactor: (s) => createRedactor({ secrets: s }),
        parseReport: parseJUnit,
        // Limits on: the defaults every job gets (a cgroup, the disk budget); off: as before.
        limits: o.limits === false ? NO_CGROUP_LIMITS : LOCAL_POLICY,
      },
      {
        runId: `bench-${concurrency}`,
        source: "bench",
        repo: "bench",
        ref: null,
        sha,
        checkout: { kind: "commit", repoDir: repo, sha },
        plan,
        concurrency,
      },
    );
    const ms = performance.now() - t0;
    const failed = [...result.jobs.values()].filter((o) => o.outcome !== "passed").length;
    if (failed > 0) throw new Error(`${failed} no-op jobs did not pass`);
    return ms;
  } finally {
    await executor.close();
    await db.close();
  }
}

export default async function schedulerBench(): Promise<BenchResult> {
  const dir = mkdtempSync(path.join(tmpdir(), "airlock-bench-sched-"));
  try {
    const { repo, sha } = makeBenchRepo(dir);
    const sh = await measureShSpawn(JOBS);
    const bwrap = await measureBareBwrap(JOBS);
    const bwrap2 = await measureBareBwrap(JOBS, 2);
    const cgSetup = await measureCgroupSetup(JOBS);
    const bwrapCg = await measureBareBwrapInCgroup(JOBS);
    const unlimited = (await runPipeline(dir, repo, sha, 1, { limits: false })) / JOBS;
    const seq = (await runPipeline(dir, repo, sha, 1)) / JOBS;
    const par = await busyWhile(() => runPipeline(dir, repo, sha, 2));
    const parMs = par.value / JOBS;
    const overhead = seq - bwrap.perRunMs;
    // The same with workspaces on a tmpfs (AIRLOCK_WORKSPACES=/dev/shm), where file creation is cheap.
    const shm = existsSync("/dev/shm")
      ? (await runPipeline(dir, repo, sha, 1, { tempDir: "/dev/shm" })) / JOBS
      : null;
    const pct = (x: number) => `${(100 * x).toFixed(0)}%`;
    return {
      bench: `scheduler: ${JOBS} no-op jobs (plan + schedule + workspace + sandbox + log)`,
      rows: [
        { name: "bare sh -c true (per spawn)", value: sh.perRunMs, unit: "ms" },
        {
          name: "bare bwrap … true (per spawn)",
          value: bwrap.perRunMs,
          unit: "ms",
          ratio: { value: bwrap.perRunMs / sh.perRunMs, against: "sh -c true" },
        },
        {
          name: "bare bwrap … true, 2 at a time (per spawn)",
          value: bwrap2.perRunMs,
          unit: "ms",
          ratio: { value: bwrap.perRunMs / bwrap2.perRunMs, against: "1 at a time (speed-up)" },
        },
        ...(bwrapCg
          ? [
              {
                name: "bare bwrap … true in a fresh cgroup (per spawn)",
                value: bwrapCg.perRunMs,
                unit: "ms",
                ratio: { value: bwrapCg.perRunMs / bwrap.perRunMs, against: "bare bwrap" },
              },
            ]
          : []),
        ...(cgSetup
          ? [{ name: "cgroup set-up and removal (per job)", value: cgSetup.perRunMs, unit: "ms" }]
          : []),
        {
          name: "airlock, no cgroup limits, concurrency 1 (per job)",
          value: unlimited,
          unit: "ms",
          ratio: { value: unlimited / bwrap.perRunMs, against: "bare bwrap" },
        },
        {
          name: "airlock, limits on, concurrency 1 (per job)",
          value: seq,
          unit: "ms",
          ratio: { value: seq / unlimited, against: "no cgroup limits" },
        },
        { name: "airlock overhead over bare bwrap (per job)", value: overhead, unit: "ms" },
        ...(shm === null
          ? []
          : [
              {
                name: "airlock, workspaces on tmpfs, concurrency 1",
                value: shm,
                unit: "ms",
                ratio: { value: shm / bwrap.perRunMs, against: "bare bwrap" },
              },
              {
                name: "airlock overhead over bare bwrap, tmpfs workspaces",
                value: shm - bwrap.perRunMs,
                unit: "ms",
              },
            ]),
        {
          name: `airlock, concurrency 2 (per job, ${cpus().length} cores)`,
          value: parMs,
          unit: "ms",
          ratio: { value: seq / parMs, against: "concurrency 1 (speed-up)" },
        },
        { name: "machine CPU busy during concurrency 2", value: 100 * par.busy, unit: "%" },
      ],
      notes: [
        `target: overhead ≤ 10 ms per job over bare bwrap (measured ${overhead.toFixed(1)} ms)`,
        cgSetup
          ? `target: cgroup set-up ≤ 2 ms per job (measured ${cgSetup.perRunMs.toFixed(2)} ms); limits cost ${(seq - unlimited).toFixed(1)} ms per job in all`
          : "no usable cgroups here: the limits rows ran without them",
        "workspaces on disk depend on the filesystem: ext4 without a journal skips inodes freed in the last 30 s when it makes new ones, so right after heavy file churn (npm test) on-disk figures are worse; tmpfs is not affected",
        `speed-up with 2 jobs at once: ${(seq / parMs).toFixed(2)}× (bare bwrap itself: ${(bwrap.perRunMs / bwrap2.perRunMs).toFixed(2)}×); cores busy ${pct(par.busy)} of the time`,
      ],
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
