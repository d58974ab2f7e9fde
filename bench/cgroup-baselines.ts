// Baselines for the cost of job limits, measured in the same run: making, reading and removing a
// job's cgroup with the default public limits (what each job adds), and a bare `bwrap … true`
// started inside a fresh cgroup. Both need usable cgroups (null: this machine has none).
import { execFile } from "node:child_process";
import { cgroupsHere, JobBounds } from "../src/executors/local/bounds.js";
import { findBwrap } from "../src/executors/local/check.js";
import type { JobSpec } from "../src/executors/types.js";
import { DEFAULT_LIMITS } from "../src/pipeline/limits.js";
import { bareBwrapArgs, type Timing, timeRuns } from "./sandbox-baselines.js";

const { memoryBytes, processes, cpus } = DEFAULT_LIMITS.public;
const job: JobSpec = {
  id: "bench",
  run: "true",
  secrets: [],
  timeoutMs: 60_000,
  network: false,
  reports: [],
  limits: { memoryBytes, processes, cpus },
};

/** JobBounds.start then finish (make the cgroup, write its limits, read its counters, remove it). */
export async function measureCgroupSetup(n: number): Promise<Timing | null> {
  const cgroups = await cgroupsHere();
  if (!cgroups.ok) return null;
  return timeRuns(n, async () => {
    const b = await JobBounds.start({ job, cgroups, requireCgroups: true, dirs: [] });
    await b.finish("passed", 0);
  });
}

/** A bare sandbox joined to a fresh job cgroup, as the local executor starts one. */
export async function measureBareBwrapInCgroup(n: number): Promise<Timing | null> {
  const cgroups = await cgroupsHere();
  if (!cgroups.ok) return null;
  const bwrap = findBwrap() ?? "/usr/bin/bwrap";
  const args = bareBwrapArgs();
  return timeRuns(n, async () => {
    const b = await JobBounds.start({ job, cgroups, requireCgroups: true, dirs: [] });
    const [file, ...rest] = b.wrap([bwrap, ...args]) as [string, ...string[]];
    await new Promise<void>((resolve, reject) =>
      execFile(file, rest, { env: { PATH: "/usr/bin:/bin" } }, (e) => (e ? reject(e) : resolve())),
    );
    await b.finish("passed", 0);
  });
}
