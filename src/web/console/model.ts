// Rows of the run store turned into what the pages show: JSON columns parsed defensively (a bad
// value shows as nothing rather than breaking the page), durations, and the job graph in levels.
import { DESCRIPTIONS_NOTE, type JobRow, type RunRow, type TestResult } from "../../store/index.js";

export const FINAL_JOB_STATES = new Set([
  "passed",
  "failed",
  "timed_out",
  "cancelled",
  "skipped",
  "error",
]);

function parse<T>(text: string | null, fallback: T): T {
  if (text === null) return fallback;
  try {
    return (JSON.parse(text) as T) ?? fallback;
  } catch {
    return fallback;
  }
}

const strings = (v: unknown): string[] =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];

export interface Selection {
  all: boolean;
  /** The public jobs of a pull request whose restricted jobs wait for an approval. */
  public: boolean;
  labels: string[];
  jobs: string[];
  tags: string[];
}

export function selectionOf(run: RunRow): Selection {
  const s = parse<Record<string, unknown> | null>(run.selection, null);
  if (!s || typeof s !== "object") {
    return { all: true, public: false, labels: [], jobs: [], tags: [] };
  }
  const tags = Array.isArray(s.tags)
    ? s.tags.map((t) => (Array.isArray(t) ? strings(t).join("+") : String(t)))
    : [];
  const labels = strings(s.labels);
  const jobs = strings(s.jobs);
  // A selection that names nothing selects every job (`airlock run` without --labels or --job).
  if (s.public === true) return { all: false, public: true, labels, jobs, tags };
  return { all: !labels.length && !jobs.length && !tags.length, public: false, labels, jobs, tags };
}

export function selectionText(s: Selection): string {
  if (s.all) return "all jobs";
  if (s.public) return "public jobs only (restricted jobs wait for an approval)";
  const parts = [
    s.labels.length ? `labels ${s.labels.join(", ")}` : "",
    s.jobs.length ? `jobs ${s.jobs.join(", ")}` : "",
    s.tags.length ? `tags ${s.tags.join(", ")}` : "",
  ].filter(Boolean);
  return parts.join("; ") || "all jobs";
}

export function notesOf(run: RunRow): Record<string, unknown> {
  const n = parse<Record<string, unknown>>(run.notes, {});
  return n && typeof n === "object" && !Array.isArray(n) ? n : {};
}

/** What each job is for, by job id (shown with the job, not among the run's notes). */
export function descriptionsOf(run: RunRow): Record<string, string> {
  const d = notesOf(run)[DESCRIPTIONS_NOTE];
  if (!d || typeof d !== "object" || Array.isArray(d)) return {};
  return Object.fromEntries(
    Object.entries(d).filter((e): e is [string, string] => typeof e[1] === "string"),
  );
}

export const needsOf = (j: JobRow): string[] => strings(parse<unknown>(j.needs, []));
export const secretsOf = (j: JobRow): string[] => strings(parse<unknown>(j.secrets, []));

/** set -> versions text, e.g. { "functional-tests": "AWS_KEY v3, DO_TOKEN v1" }. */
export function grantsOf(j: JobRow): { set: string; versions: string }[] {
  const g = parse<Record<string, unknown>>(j.grants, {});
  if (!g || typeof g !== "object") return [];
  return Object.entries(g).map(([set, v]) => ({
    set,
    versions:
      v && typeof v === "object"
        ? Object.entries(v as Record<string, unknown>)
            .map(([k, ver]) => `${k} v${typeof ver === "object" ? "?" : String(ver)}`)
            .join(", ")
        : "",
  }));
}

export function testsOf(j: JobRow): TestResult[] {
  const t = parse<unknown>(j.tests, []);
  if (!Array.isArray(t)) return [];
  return t
    .filter((x): x is Record<string, unknown> => !!x && typeof x === "object")
    .map((x) => ({
      suite: String(x.suite ?? ""),
      name: String(x.name ?? ""),
      status: x.status === "failed" || x.status === "skipped" ? x.status : "passed",
      durationMs: Number(x.durationMs) || 0,
      ...(typeof x.message === "string" ? { message: x.message } : {}),
    }));
}

export function runDuration(run: RunRow, now = Date.now()): number | null {
  if (!run.started_at) return null;
  return (run.finished_at ?? now) - run.started_at;
}

export function jobDuration(j: JobRow, now = Date.now()): number | null {
  if (!j.started_at) return null;
  return (j.finished_at ?? now) - j.started_at;
}

/** Jobs in dependency levels: level 0 needs nothing, level n needs something of level n-1. */
export function levels(jobs: JobRow[]): JobRow[][] {
  const byId = new Map(jobs.map((j) => [j.job_id, j]));
  const depth = new Map<string, number>();
  const visiting = new Set<string>();
  const depthOf = (j: JobRow): number => {
    const known = depth.get(j.job_id);
    if (known !== undefined) return known;
    if (visiting.has(j.job_id)) return 0; // a cycle cannot be stored, but never loop on one
    visiting.add(j.job_id);
    let d = 0;
    for (const n of needsOf(j)) {
      const dep = byId.get(n);
      if (dep) d = Math.max(d, depthOf(dep) + 1);
    }
    visiting.delete(j.job_id);
    depth.set(j.job_id, d);
    return d;
  };
  const out: JobRow[][] = [];
  for (const j of jobs) {
    const d = depthOf(j);
    const level = out[d] ?? [];
    level.push(j);
    out[d] = level;
  }
  return out.filter(Boolean);
}

const GITHUB_REPO = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/;
const SHA = /^[0-9a-f]{40}(?:[0-9a-f]{24})?$/;

/** Links to the PR and commit when the run is of a GitHub repository; validated, never raw. */
export function forgeLinks(
  run: RunRow,
  webUrl = "https://github.com",
): { pr?: string; commit?: string } {
  if (run.source !== "github" || !GITHUB_REPO.test(run.repo)) return {};
  const base = `${webUrl.replace(/\/+$/, "")}/${run.repo}`;
  return {
    ...(run.pr !== null && Number.isInteger(run.pr) && run.pr > 0
      ? { pr: `${base}/pull/${run.pr}` }
      : {}),
    ...(SHA.test(run.sha) ? { commit: `${base}/commit/${run.sha}` } : {}),
  };
}
