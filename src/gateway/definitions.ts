// Which definition each job of a pull request's pipeline comes from (DESIGN.md invariant 2):
// restricted jobs (those declaring secrets or ID tokens), the secret sets, trust and selection come from the
// base commit's `.airlock.yml`, read through the API at the base SHA; public jobs come from the
// PR head's own file. A head job that declares secrets or ID tokens, or that takes the name of a restricted
// job, is dropped: it never runs with anything from the head.
import { checkConfig } from "../config/checks.js";
import { type Config, holdsCredentials, type JobConfig } from "../config/schema.js";

export const CONFIG_FILE = ".airlock.yml";

export interface Definitions {
  /** What runs: base restricted jobs, head public jobs (base public ones the restricted need). */
  config: Config;
  /** Said in the summary: where definitions came from and what was dropped. */
  notes: string[];
}

const restrictedNames = (c: Config) =>
  Object.entries(c.jobs)
    .filter(([, j]) => holdsCredentials(j))
    .map(([n]) => n);

/** Template names a job's `needs` refer to (an expansion id counts as its template). */
function neededTemplates(c: Config, names: string[]): Set<string> {
  const out = new Set<string>();
  const queue = [...names];
  while (queue.length > 0) {
    const name = queue.shift()!;
    for (const n of c.jobs[name]?.needs ?? []) {
      const t = c.jobs[n] ? n : Object.keys(c.jobs).find((k) => n.startsWith(`${k}-`));
      if (t && !out.has(t)) {
        out.add(t);
        queue.push(t);
      }
    }
  }
  return out;
}

/**
 * Combines the trusted base definition with the head's. `head` is null when the head has no
 * `.airlock.yml`, or a string saying why it could not be read.
 */
export function combineDefinitions(base: Config, head: Config | string | null): Definitions {
  const notes: string[] = [];
  const restricted = restrictedNames(base);
  const jobs: Record<string, JobConfig> = {};
  if (typeof head === "string" || head === null) {
    notes.push(
      head === null
        ? `The pull request has no ${CONFIG_FILE}: public jobs use the base definition.`
        : `The pull request's ${CONFIG_FILE} cannot be used (${head}): public jobs use the base definition.`,
    );
    return { config: base, notes };
  }

  const dropped: string[] = [];
  for (const [name, job] of Object.entries(head.jobs)) {
    if (holdsCredentials(job) || restricted.includes(name)) {
      if (JSON.stringify(job) !== JSON.stringify(base.jobs[name])) dropped.push(name);
      continue;
    }
    jobs[name] = job;
  }
  for (const name of restricted) jobs[name] = base.jobs[name]!;
  // Public jobs that restricted jobs need but the head removed: from the base.
  for (const t of neededTemplates(base, restricted)) jobs[t] ??= base.jobs[t]!;

  if (dropped.length > 0) {
    notes.push(
      `The pull request changes jobs that use secrets (${dropped.map((d) => `\`${d}\``).join(", ")}): such changes take effect only once merged. Restricted jobs run from the base commit's definition; the pull request's version of them does not run.`,
    );
  } else if (
    JSON.stringify(head.secrets) !== JSON.stringify(base.secrets) ||
    JSON.stringify(head.trust) !== JSON.stringify(base.trust)
  ) {
    notes.push(
      `The pull request changes the secret sets or trust rules of ${CONFIG_FILE}: they take effect only once merged.`,
    );
  } else if (restricted.length > 0 && JSON.stringify(head.jobs) !== JSON.stringify(base.jobs)) {
    notes.push(
      `The pull request changes ${CONFIG_FILE}: its public jobs run as changed; restricted jobs use the base commit's definition.`,
    );
  }

  const config: Config = { ...base, jobs };
  const problems = checkConfig(config);
  if (problems.length > 0) {
    notes.push(
      `The pull request's public jobs cannot be combined with the base definition (${problems[0]!.message}): the base definition runs.`,
    );
    return { config: base, notes };
  }
  return { config, notes };
}
