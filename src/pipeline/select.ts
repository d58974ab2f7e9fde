// Which jobs a run executes: labels (as a PR's labels or `--labels` give them), named jobs
// (`--job`), and everything the chosen jobs need.
//
// Label grammar: <prefix><part>-<part>…, each part a tag, an alias of a tag, or "all".
// `test-aws-infra` selects jobs tagged aws AND infra; `test-aws-all` aws; `test-all` everything.
// Labels choose among restricted jobs (those with secrets): public jobs always run.
// A test label that selects nothing is an error, never an empty run.
import { ALL } from "../config/checks.js";
import type { Config } from "../config/schema.js";
import { didYouMean } from "../config/suggest.js";
import { expandJobs } from "./expand.js";
import { isRestricted, type Plan, type PlannedJob } from "./types.js";

export interface Selection {
  labels?: string[];
  jobs?: string[];
}

/** The selection cannot be honoured; the message names each bad label or job and a fix. */
export class SelectionError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join("\n"));
    this.name = "SelectionError";
  }
}

/** One test label, read: the tags a job must all have (empty: every job). */
export interface LabelFilter {
  label: string;
  tags: string[];
}

export function planPipeline(config: Config, sel: Selection = {}): Plan {
  return planFrom(config, expandJobs(config), sel);
}

function planFrom(config: Config, all: PlannedJob[], sel: Selection): Plan {
  const problems: string[] = [];
  const reasons: Record<string, string> = {};

  // 1. The base set: named jobs, or all of them.
  let base = all;
  const named = (sel.jobs ?? []).map((n) => n.trim()).filter((n) => n.length > 0);
  if (named.length > 0) {
    const byName = new Map<string, string>(); // id -> the name that chose it
    const candidates = [...new Set([...all.map((j) => j.template), ...all.map((j) => j.id)])];
    for (const name of named) {
      const hits = all.filter((j) => j.id === name || j.template === name);
      if (hits.length === 0)
        problems.push(`no job named ${quote(name)}${didYouMean(name, candidates)}`);
      for (const j of hits) if (!byName.has(j.id)) byName.set(j.id, name);
    }
    base = all.filter((j) => byName.has(j.id));
    for (const j of base) reasons[j.id] = `selected by --job ${byName.get(j.id)}`;
  }

  // 2. Test labels narrow the restricted jobs of the base set.
  const { filters, errors } = readLabels(config, all, sel.labels ?? []);
  problems.push(...errors);
  let selected = base;
  if (filters.length > 0) {
    const chosenBy = new Map<string, string[]>();
    for (const f of filters) {
      const hits = base.filter((j) => isRestricted(j) && matches(j, f));
      if (hits.length === 0 && f.tags.length > 0) {
        const scope =
          named.length > 0 ? "no restricted job among those named with --job" : "no restricted job";
        problems.push(
          `label ${quote(f.label)} selects no job: ${scope} has ${f.tags.length > 1 ? "all of the tags" : "the tag"} ${f.tags.join(", ")}`,
        );
      }
      for (const j of hits) chosenBy.set(j.id, [...(chosenBy.get(j.id) ?? []), f.label]);
    }
    selected = base.filter((j) => !isRestricted(j) || chosenBy.has(j.id));
    for (const j of selected) {
      const by = chosenBy.get(j.id);
      if (by) reasons[j.id] = `selected by label${by.length > 1 ? "s" : ""} ${by.join(", ")}`;
      else reasons[j.id] ??= "public job: runs whatever the labels";
    }
  } else if (named.length === 0) {
    for (const j of selected) reasons[j.id] = "all jobs";
  }
  if (problems.length > 0) throw new SelectionError(problems);

  // 3. Everything the selected jobs need, transitively.
  const byId = new Map(all.map((j) => [j.id, j]));
  const inPlan = new Set(selected.map((j) => j.id));
  const queue = selected.map((j) => j.id);
  while (queue.length > 0) {
    const id = queue.shift()!;
    for (const dep of byId.get(id)?.needs ?? []) {
      if (inPlan.has(dep)) continue;
      inPlan.add(dep);
      reasons[dep] = `needed by ${id}`;
      queue.push(dep);
    }
  }
  const jobs = all.filter((j) => inPlan.has(j.id));
  const ordered: Record<string, string> = {};
  for (const j of jobs) ordered[j.id] = reasons[j.id]!;
  return { jobs, reasons: ordered };
}

/** Labels and names are untrusted text: quoted and escaped, so they cannot forge output lines. */
function quote(s: string): string {
  return JSON.stringify(s.length > 100 ? `${s.slice(0, 100)}…` : s);
}

function matches(job: PlannedJob, f: LabelFilter): boolean {
  const tags = new Set(job.tags.map((t) => t.toLowerCase()));
  return f.tags.every((t) => tags.has(t));
}

/**
 * Read the test labels among `labels`. Labels without the prefix are not test labels and are
 * ignored. Tags may hold "-" (self-hosted), so a label is split into the fewest known words.
 */
export function readLabels(
  config: Config,
  jobs: PlannedJob[],
  labels: string[],
): { filters: LabelFilter[]; errors: string[] } {
  const prefix = config.selection.label_prefix.toLowerCase();
  const words = new Map<string, string>(); // what a label may say -> the tag it means
  for (const j of jobs) for (const t of j.tags) words.set(t.toLowerCase(), t.toLowerCase());
  const tags = [...words.keys()].sort();
  for (const [alias, tag] of Object.entries(config.selection.aliases)) {
    words.set(alias.toLowerCase(), tag.toLowerCase());
  }
  words.set(ALL, ALL);

  const filters: LabelFilter[] = [];
  const errors: string[] = [];
  const seen = new Set<string>();
  for (const raw of labels) {
    const label = raw.trim();
    if (!label.toLowerCase().startsWith(prefix) || seen.has(label)) continue;
    seen.add(label);
    const rest = label.slice(prefix.length).toLowerCase();
    if (rest === "") {
      errors.push(
        `label ${quote(label)} names no tags: write e.g. ${quote(prefix + ALL)} or ${quote(`${prefix}<tag>`)}`,
      );
      continue;
    }
    const parts = segment(rest.split("-"), words);
    if (!parts) {
      errors.push(unknownPartMessage(label, rest.split("-"), words, tags));
      continue;
    }
    const required = [...new Set(parts.map((p) => words.get(p)!))].filter((t) => t !== ALL);
    filters.push({ label, tags: required });
  }
  return { filters, errors };
}

/** Split pieces into the fewest words of the vocabulary, or undefined if they cannot be. */
function segment(pieces: string[], words: Map<string, string>): string[] | undefined {
  const n = pieces.length;
  const best: (string[] | undefined)[] = new Array(n + 1);
  best[n] = [];
  for (let i = n - 1; i >= 0; i--) {
    for (let j = n; j > i; j--) {
      const word = pieces.slice(i, j).join("-");
      const tail = best[j];
      if (!words.has(word) || !tail) continue;
      if (!best[i] || tail.length + 1 < best[i]!.length) best[i] = [word, ...tail];
    }
  }
  return best[0];
}

function unknownPartMessage(
  label: string,
  pieces: string[],
  words: Map<string, string>,
  tags: string[],
): string {
  // Pieces no known word covers are the unknown part(s).
  const covered = pieces.map(() => false);
  for (let i = 0; i < pieces.length; i++) {
    for (let j = i + 1; j <= pieces.length; j++) {
      if (words.has(pieces.slice(i, j).join("-"))) covered.fill(true, i, j);
    }
  }
  const unknown: string[] = [];
  let run: string[] = [];
  pieces.forEach((p, i) => {
    if (!covered[i]) run.push(p);
    if ((covered[i] || i === pieces.length - 1) && run.length > 0) {
      unknown.push(run.join("-"));
      run = [];
    }
  });
  const known = tags.length > 20 ? `${tags.slice(0, 20).join(", ")}, …` : tags.join(", ");
  const what =
    unknown.length > 0
      ? unknown
          .map((u) => `${quote(u)} is not a tag of any job${didYouMean(u, words.keys())}`)
          .join("; ")
      : "its parts do not spell known tags";
  return `label ${quote(label)}: ${what}. Tags: ${known || "(none)"}, or "${ALL}"`;
}

export interface ExcludedGroup {
  template: string;
  /** Restricted job ids of this template the selection left out. */
  excluded: string[];
  /** How many restricted jobs the template has in all. */
  total: number;
}

/**
 * The restricted jobs a selection leaves out, grouped by template. Empty means the run is
 * complete: what a merge gate needs to know before it trusts a green run.
 */
export function excludedGroups(config: Config, selOrPlan: Selection | Plan): ExcludedGroup[] {
  const all = expandJobs(config);
  const plan = "reasons" in selOrPlan ? selOrPlan : planFrom(config, all, selOrPlan);
  const planned = new Set(plan.jobs.map((j) => j.id));
  const groups = new Map<string, ExcludedGroup>();
  for (const j of all) {
    if (!isRestricted(j)) continue;
    const g = groups.get(j.template) ?? { template: j.template, excluded: [], total: 0 };
    g.total++;
    if (!planned.has(j.id)) g.excluded.push(j.id);
    groups.set(j.template, g);
  }
  return [...groups.values()].filter((g) => g.excluded.length > 0);
}

/** "functional (7 of 9 jobs), e2e (all 2 jobs)" — for a status line. */
export function describeExcluded(groups: ExcludedGroup[]): string {
  return groups
    .map((g) =>
      g.excluded.length === g.total
        ? `${g.template} (all ${g.total} job${g.total > 1 ? "s" : ""})`
        : `${g.template} (${g.excluded.length} of ${g.total} jobs)`,
    )
    .join(", ");
}
