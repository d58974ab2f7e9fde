// Whether a job may start, as far as its network goes: an allow list needs an executor that
// enforces it, and a server may require one of every restricted job. Checked before any secret
// is released.
import type { Executor, JobSpec } from "../executors/types.js";
import { isRestricted } from "../executors/types.js";

export interface EgressRequirements {
  /** Restricted jobs must have `network: false` or an enforced `network: { allow }`. */
  requireAllowlist?: boolean;
}

/** Why `job` may not run on `executor`, or null. `name` is the job's key under `jobs:`. */
export function egressProblem(
  job: Pick<JobSpec, "secrets" | "network" | "egress">,
  name: string,
  executor: Pick<Executor, "name" | "kind" | "egress">,
  req: EgressRequirements = {},
): string | null {
  if (job.egress && !executor.egress) {
    const where =
      executor.kind === "local"
        ? "the local executor without its sandbox"
        : `the ${executor.name} executor`;
    return `jobs.${name} has a network allow list, which ${where} cannot enforce: run it in the local sandbox, or write network: true or false`;
  }
  if (req.requireAllowlist && isRestricted(job)) {
    if (job.network) {
      return `jobs.${name} holds secrets, and this server requires their jobs to list where they connect: replace \`network: true\` with \`network: { allow: [...] }\` (a run with \`audit: true\` suggests the list)`;
    }
    if (job.egress?.audit) {
      return `jobs.${name} holds secrets, and this server requires their jobs' allow lists to be enforced: remove \`audit: true\``;
    }
  }
  return null;
}
