// Checks that need the whole configuration, run after the schema accepted its shape.
// Each problem carries the path of the YAML node it is about, so the loader can point at it.
import {
  comboCount,
  expansionsOf,
  MAX_EXPANSIONS,
  MAX_ID_LENGTH,
  SAFE_ID,
  templateVars,
} from "./matrix.js";
import { type Config, durationMs } from "./schema.js";
import { didYouMean } from "./suggest.js";
import { checkTrust } from "./trust-checks.js";

export type Path = (string | number)[];

/** Longest job timeout: a day is already generous, and timers overflow past ~24.8 days. */
export const MAX_TIMEOUT_MS = 24 * 3600 * 1000;

export interface Problem {
  path: Path;
  message: string;
  /** Point at the key of the last path element rather than at its value. */
  at?: "key";
}

/** The word a label uses for "every tag": it cannot also be a tag. */
export const ALL = "all";

export function checkConfig(config: Config): Problem[] {
  const problems: Problem[] = [];
  const templates = Object.keys(config.jobs);
  if (templates.length === 0) {
    problems.push({ path: ["jobs"], message: "no jobs: add at least one job under `jobs:`" });
    return problems;
  }
  problems.push(...checkSecretSets(config));
  problems.push(...checkSelection(config));
  problems.push(...checkTrust(config));

  // Expanded ids: which template made each, to name both sides of a clash.
  const ids = new Map<string, string>();
  const idOwner = new Map<string, string>();
  for (const t of templates) {
    const job = config.jobs[t]!;
    const vars = Object.keys(job.matrix ?? {});
    const hasMatrix = vars.length > 0;
    const where = (field: string, i?: number): Path =>
      i === undefined ? ["jobs", t, field] : ["jobs", t, field, i];

    if (durationMs(job.timeout) > MAX_TIMEOUT_MS) {
      problems.push({ path: where("timeout"), message: "a job's timeout is at most 24h" });
    }
    if (job.name !== undefined && !hasMatrix) {
      problems.push({
        path: where("name"),
        message:
          "`name` names the expansions of a matrix, and this job has no `matrix` (rename the job's key instead)",
      });
    }
    const badVar = (v: string) =>
      hasMatrix
        ? `"\${${v}}" is not a matrix variable of this job (it has: ${vars.join(", ")})${didYouMean(v, vars)}`
        : `"\${${v}}" is not a matrix variable: this job has no \`matrix\``;
    // Ids are only worth checking once the name template itself is sound.
    let checkIds = true;
    if (job.name !== undefined) {
      const bad = templateVars(job.name).filter((v) => !vars.includes(v));
      for (const v of bad) problems.push({ path: where("name"), message: badVar(v) });
      if (bad.length > 0) checkIds = false;
    }
    job.tags.forEach((tag, i) => {
      for (const v of templateVars(tag)) {
        if (!vars.includes(v)) problems.push({ path: where("tags", i), message: badVar(v) });
      }
      if (tag.trim().toLowerCase() === ALL) {
        problems.push({
          path: where("tags", i),
          message: `"${ALL}" cannot be a tag: labels use it to mean every tag (test-${ALL})`,
        });
      }
    });
    for (const v of vars) {
      if (v in job.env) {
        problems.push({
          path: ["jobs", t, "env", v],
          at: "key",
          message: `"${v}" is also a matrix variable of this job, which sets it; rename one of them`,
        });
      }
    }
    const count = comboCount(job.matrix);
    if (count > MAX_EXPANSIONS) {
      problems.push({
        path: where("matrix"),
        message: `the matrix expands to ${count} jobs; the limit is ${MAX_EXPANSIONS}`,
      });
      checkIds = false;
    }

    job.secrets.forEach((s, i) => {
      if (!(s in config.secrets)) {
        const declared = Object.keys(config.secrets);
        problems.push({
          path: where("secrets", i),
          message: `no secret set named "${s}"${didYouMean(s, declared)}; declare it under \`secrets:\`${
            declared.length ? ` (declared: ${declared.join(", ")})` : ""
          }`,
        });
      }
    });

    const namePath = job.name !== undefined ? where("name") : ["jobs", t];
    const nameAt = job.name !== undefined ? undefined : ("key" as const);
    const seenHere = new Map<string, string>();
    for (const e of checkIds ? expansionsOf(t, job) : []) {
      if (e.id.length > MAX_ID_LENGTH || !SAFE_ID.test(e.id)) {
        problems.push({
          path: namePath,
          at: nameAt,
          message: `makes the job id "${e.id.slice(0, MAX_ID_LENGTH)}…", longer than ${MAX_ID_LENGTH} characters; use a shorter \`name\``,
        });
        break;
      }
      const twin = seenHere.get(e.id);
      if (twin !== undefined) {
        problems.push({
          path: namePath,
          at: nameAt,
          message:
            twin !== e.rawId
              ? `"${twin}" and "${e.rawId}" both become the job id "${e.id}" (characters other than letters, digits, "_", "." and "-" turn into "-"); make the matrix values differ in those characters`
              : `every expansion must have its own name, but "${e.id}" comes up more than once; use matrix variables in \`name\`, e.g. "\${${vars[0]}}"`,
        });
        break;
      }
      seenHere.set(e.id, e.rawId);
      const other = ids.get(e.id);
      if (other !== undefined) {
        problems.push({
          path: namePath,
          at: nameAt,
          message: `makes the job id "${e.id}", which job "${other}" also makes; job ids must be unique`,
        });
      }
      ids.set(e.id, t);
      idOwner.set(e.id, t);
    }
  }

  // needs: resolve to templates (a template name means all its expansions).
  const edges = new Map<string, { to: string; index: number }[]>();
  for (const t of templates) {
    const out: { to: string; index: number }[] = [];
    config.jobs[t]!.needs.forEach((n, i) => {
      const target = n in config.jobs ? n : idOwner.get(n);
      const path: Path = ["jobs", t, "needs", i];
      if (target === undefined) {
        problems.push({ path, message: `no job named "${n}"${didYouMean(n, templates)}` });
      } else if (target === t) {
        problems.push({ path, message: `job "${t}" cannot need itself` });
      } else {
        out.push({ to: target, index: i });
      }
    });
    edges.set(t, out);
  }
  problems.push(...findCycles(templates, edges));
  return problems;
}

function checkSecretSets(config: Config): Problem[] {
  const problems: Problem[] = [];
  const declared = Object.keys(config.secrets);
  const refs: [Path, string | undefined][] = [
    [["suite", "credentials"], config.suite?.credentials],
    [["mirror", "credentials"], config.mirror?.credentials],
    [["executor", "gitlab", "secrets"], config.executor?.gitlab?.secrets],
  ];
  for (const [path, name] of refs) {
    if (name !== undefined && !declared.includes(name)) {
      problems.push({
        path,
        message: `no secret set named "${name}"${didYouMean(name, declared)}; declare it under \`secrets:\``,
      });
    }
  }
  for (const [name, set] of Object.entries(config.secrets)) {
    if (set.backend === "vault" && !set.vault) {
      problems.push({
        path: ["secrets", name, "backend"],
        message: "the vault backend needs a `vault:` block with the secret's `path`",
      });
    } else if (set.backend !== "vault" && set.vault) {
      problems.push({
        path: ["secrets", name, "vault"],
        at: "key",
        message: `\`vault:\` is only read by the vault backend, and this set uses "${set.backend}"; remove one of them`,
      });
    }
    set.keys.forEach((key, i) => {
      if (/^(AIRLOCK_|VAULT_)/.test(key)) {
        problems.push({
          path: ["secrets", name, "keys", i],
          message: `${key} is one of Airlock's own variables (AIRLOCK_*, VAULT_*), which are never passed to a job; rename it`,
        });
      }
    });
    if (set.backend === "env" && set.keys.length === 0 && !set.vault) {
      problems.push({
        path: ["secrets", name, "backend"],
        message:
          "the env backend needs `keys:`, the variables of Airlock's environment the set passes on",
      });
    }
  }
  return problems;
}

function checkSelection(config: Config): Problem[] {
  const problems: Problem[] = [];
  if (config.selection.label_prefix.trim() === "") {
    problems.push({
      path: ["selection", "label_prefix"],
      message: 'must not be empty: every label would select tests (the default is "test-")',
    });
  }
  for (const alias of Object.keys(config.selection.aliases)) {
    if (alias.toLowerCase() === ALL) {
      problems.push({
        path: ["selection", "aliases", alias],
        at: "key",
        message: `"${ALL}" cannot be an alias: labels use it to mean every tag`,
      });
    }
  }
  return problems;
}

/** One problem per cycle in `needs`, naming it: `a -> b -> a`. */
function findCycles(
  nodes: string[],
  edges: Map<string, { to: string; index: number }[]>,
): Problem[] {
  const problems: Problem[] = [];
  const state = new Map<string, "active" | "done">();
  const stack: string[] = [];
  const reported = new Set<string>();
  const visit = (n: string): void => {
    state.set(n, "active");
    stack.push(n);
    for (const { to, index } of edges.get(n) ?? []) {
      const s = state.get(to);
      if (s === "active") {
        // Start the cycle at the job whose `needs` entry we point at: "b -> a -> b".
        const ring = stack.slice(stack.indexOf(to));
        const cycle = [n, ...ring.slice(0, -1), n];
        const key = [...new Set(cycle)].sort().join("\0");
        if (!reported.has(key)) {
          reported.add(key);
          problems.push({
            path: ["jobs", n, "needs", index],
            message: `needs form a cycle: ${cycle.join(" -> ")}`,
          });
        }
      } else if (s === undefined) {
        visit(to);
      }
    }
    stack.pop();
    state.set(n, "done");
  };
  for (const n of nodes) if (!state.has(n)) visit(n);
  return problems;
}
