// The merge gate `airlock/all-tests`: green only when a full restricted run on the PR's current
// head succeeded. A partial (label- or /test-filtered) run never turns it green; a selection that
// covers every restricted job (the `test-all` label) is a full run. It never concludes while an
// attempt of a run on the head is still queued or running: that attempt may change the answer.
import { JOB_GAVE_UP, type JobRow, type RunRow } from "../store/index.js";

export interface GateInput {
  /** The PR's current head SHA. */
  headSha: string;
  /** Runs of the PR with their jobs (any order, any commit). */
  runs: { run: RunRow; jobs: JobRow[] }[];
  /** Ids of every restricted job the trusted definition has, to name what a filter left out. */
  allRestricted?: string[];
  /** The label prefix, for the hint on how to run everything. */
  labelPrefix?: string;
  /** The PR is a draft: restricted jobs wait until it is ready for review. */
  draft?: boolean;
  /**
   * Requests on the head whose attempt is queued or running (a retry after a restart included):
   * while there are any, the gate says what it knows so far but does not conclude.
   */
  pending?: number;
}

export interface GateDecision {
  state: "pending" | "success" | "failure";
  title: string;
  summary: string;
}

const short = (sha: string) => sha.slice(0, 12);
const list = (ids: string[]) => ids.map((i) => `\`${i}\``).join(", ");
const FINAL_OK = new Set(["passed"]);
const ACTIVE = new Set(["pending", "running"]);

interface Selection {
  jobs?: string[];
  labels?: string[];
  /** A bot's scope chose what ran (trust.bots). */
  scope?: string;
}

function selectionOf(run: RunRow): Selection | null {
  if (run.selection === null) return null;
  try {
    const s = JSON.parse(run.selection) as Selection | null;
    return s ?? null;
  } catch {
    return {};
  }
}

export function decideGate(input: GateInput): GateDecision {
  const d = untilSettled(decideOnRuns(input), input);
  if (!input.draft || d.state === "success") return d;
  // A draft's partial or stopped run is not a failure yet: nothing restricted may run until then.
  return {
    state: "pending",
    title: "Draft: restricted jobs wait until it is ready for review",
    summary: `The pull request is a draft, so only public jobs run on ${input.headSha}. Mark it ready for review to run the restricted jobs; the gate turns green after a full run on the head succeeds.`,
  };
}

/** A conclusion waits while a run on the head may still change it. */
function untilSettled(d: GateDecision, input: GateInput): GateDecision {
  const n = input.pending ?? 0;
  if (d.state === "pending" || n === 0) return d;
  return {
    state: "pending",
    title: `Waiting for ${n} run${n === 1 ? "" : "s"} on ${short(input.headSha)}`,
    summary: `${n === 1 ? "A run" : `${n} runs`} on ${input.headSha} ${n === 1 ? "has" : "have"} not ended yet (queued, running, or taken up again after an interruption). The gate concludes when ${n === 1 ? "it has" : "they have"}.\n\nSo far: ${d.title}.`,
  };
}

/**
 * A run of every restricted job: unfiltered, or a selection that happens to cover them all (the
 * `test-all` label, `/test` naming each group).
 */
function isFull(r: { run: RunRow; jobs: JobRow[] }, allRestricted: string[] | undefined): boolean {
  if (selectionOf(r.run) === null) return true;
  if (!allRestricted?.length) return false;
  const ran = new Set(r.jobs.filter((j) => j.restricted === 1).map((j) => j.job_id));
  return allRestricted.every((id) => ran.has(id));
}

function decideOnRuns(input: GateInput): GateDecision {
  const { headSha } = input;
  const onHead = input.runs
    .filter((r) => r.run.sha === headSha)
    .sort((a, b) => a.run.created_at - b.run.created_at);
  const base = [...onHead].reverse().find((r) => isFull(r, input.allRestricted));

  if (!base) {
    const filtered = [...onHead].reverse().find((r) => selectionOf(r.run) !== null);
    if (!filtered) {
      return {
        state: "pending",
        title: `Waiting for the full run on ${short(headSha)}`,
        summary: `No run of all restricted jobs exists yet for commit ${headSha}. The gate turns green when one succeeds.`,
      };
    }
    const sel = selectionOf(filtered.run) ?? {};
    const ran = sel.jobs ?? filtered.jobs.filter((j) => j.restricted === 1).map((j) => j.job_id);
    const leftOut = (input.allRestricted ?? []).filter((id) => !ran.includes(id));
    const prefix = input.labelPrefix ?? "test-";
    const lines = [
      `Only a selection of the restricted jobs ran on ${headSha}${sel.labels?.length ? ` (labels ${list(sel.labels)})` : ""}: ${ran.length ? list(ran) : "none"}.`,
      leftOut.length ? `Left out: ${list(leftOut)}.` : "Jobs outside the selection were left out.",
      "",
      sel.scope
        ? `The scope of ${sel.scope} in trust.bots covers only those: the others run once a trusted member approves ${short(headSha)}. The gate turns green only after a full run on the current head succeeds.`
        : `To run them all, remove the \`${prefix}…\` labels or comment \`/test all\`. The gate turns green only after a full run on the current head succeeds.`,
    ];
    return {
      state: "failure",
      title: `Partial run: ${leftOut.length ? `${leftOut.length} job${leftOut.length === 1 ? "" : "s"} left out` : "filtered"}`,
      summary: lines.join("\n"),
    };
  }

  const restricted = base.jobs.filter((j) => j.restricted === 1);
  const required = (restricted.length ? restricted : base.jobs).map((j) => j.job_id);
  // The newest result of each required job among the full run and the runs after it (/retest).
  const later = onHead.filter((r) => r.run.created_at >= base.run.created_at);
  const latest = new Map<string, JobRow>();
  for (const r of later)
    for (const j of r.jobs) if (required.includes(j.job_id)) latest.set(j.job_id, j);

  const active = required.filter((id) => ACTIVE.has(latest.get(id)?.state ?? "pending"));
  const bad = required.filter((id) => {
    const s = latest.get(id)?.state ?? "pending";
    return !ACTIVE.has(s) && !FINAL_OK.has(s);
  });
  if (bad.length) {
    const detail = bad.map((id) => {
      const j = latest.get(id);
      // Given up after its gateway kept stopping: not a failure of the job.
      return `${id} (${j?.reason === JOB_GAVE_UP ? "interrupted" : j?.state.replace("_", " ")})`;
    });
    return {
      state: "failure",
      title: `${bad.length} of ${required.length} required job${required.length === 1 ? "" : "s"} did not pass`,
      summary: `On ${headSha}: ${detail.join(", ")}.\n\nComment \`/retest\` to run the failed jobs again.`,
    };
  }
  if (active.length) {
    return {
      state: "pending",
      title: `${required.length - active.length} of ${required.length} required jobs done`,
      summary: `Running on ${headSha}: ${list(active)}.`,
    };
  }
  return {
    state: "success",
    title: `All ${required.length} required job${required.length === 1 ? "" : "s"} passed`,
    summary: `Every restricted job passed on ${headSha}.`,
  };
}
