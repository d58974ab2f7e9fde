// The "Timeline" section of a run page: when each job started and ended on one time axis, and
// what it waited for — the job it needed that finished last, then a free slot. Bars are inline SVG
// rectangles (geometry attributes, so the console's CSP, which forbids inline styles, holds).
import type { JobRow, RunRow } from "../../store/index.js";
import { duration, html, pathOf, type SafeHtml } from "./html.js";
import { needsOf } from "./model.js";

const WIDTH = 1000;
/** Waits shorter than this are not worth a word. */
const NOTABLE_WAIT_MS = 1000;

export interface TimelineRow {
  job: JobRow;
  /** Offsets from the run's start, ms. */
  start: number;
  end: number;
  /** When what it needed had all finished (offset), and which of them finished last. */
  ready: number;
  waitedFor: string | null;
}

/** Rows of the jobs that started, by start time; the axis' length. */
export function timelineOf(
  run: RunRow,
  jobs: JobRow[],
  now = Date.now(),
): { rows: TimelineRow[]; span: number } {
  const started = jobs.filter((j) => j.started_at !== null);
  if (started.length === 0) return { rows: [], span: 0 };
  const t0 = Math.min(run.started_at ?? run.created_at, ...started.map((j) => j.started_at!));
  const byId = new Map(jobs.map((j) => [j.job_id, j]));
  const rows = started
    .map((j): TimelineRow => {
      const start = j.started_at! - t0;
      const end = (j.finished_at ?? now) - t0;
      let ready = 0;
      let waitedFor: string | null = null;
      for (const n of needsOf(j)) {
        const dep = byId.get(n);
        if (dep?.finished_at == null) continue;
        const at = dep.finished_at - t0;
        if (at >= ready) {
          ready = at;
          waitedFor = n;
        }
      }
      return { job: j, start, end: Math.max(end, start), ready: Math.min(ready, start), waitedFor };
    })
    .sort((a, b) => a.start - b.start || a.job.job_id.localeCompare(b.job.job_id));
  return { rows, span: Math.max(1, ...rows.map((r) => r.end)) };
}

const x = (ms: number, span: number) => Math.round((ms / span) * WIDTH * 10) / 10;

function waitText(r: TimelineRow): string {
  const parts: string[] = [];
  if (r.waitedFor) parts.push(`${r.waitedFor} (until +${duration(r.ready)})`);
  const queued = r.start - r.ready;
  if (queued >= NOTABLE_WAIT_MS) parts.push(`a free slot for ${duration(queued)}`);
  return parts.join(", then ") || "nothing";
}

function bar(r: TimelineRow, span: number): SafeHtml {
  const rect = (from: number, to: number, cls: string) =>
    to > from
      ? html`<rect class="${cls}" x="${x(from, span)}" y="1" width="${Math.max(2, x(to - from, span))}" height="10"/>`
      : "";
  const state = /^[a-z_]+$/.test(r.job.state) ? r.job.state : "unknown";
  const label = `${r.job.job_id}: ${r.waitedFor ? `waited for ${r.waitedFor}, ` : ""}ran from +${duration(r.start)} to +${duration(r.end)}, ${r.job.state.replace("_", " ")}`;
  return html`<svg class="bar" viewBox="0 0 ${WIDTH} 12" preserveAspectRatio="none" role="img" aria-label="${label}"><title>${label}</title>${rect(0, r.ready, "needs")}${rect(r.ready, r.start, "queued")}${rect(r.start, r.end, `ran s-${state}`)}</svg>`;
}

export function timelineSection(run: RunRow, jobs: JobRow[], now = Date.now()): SafeHtml | "" {
  const { rows, span } = timelineOf(run, jobs, now);
  if (rows.length === 0) return "";
  return html`<section aria-labelledby="timeline"><h2 id="timeline">Timeline</h2>
<div class="scroll"><table class="timeline"><caption class="sr">When each job ran, from the run's start (${duration(span)} in all)</caption>
<thead><tr><th scope="col">Job</th><th scope="col">Waited for</th><th scope="col">Started</th><th scope="col">Ended</th><th scope="col" class="axis">0 <span>${duration(span)}</span></th></tr></thead>
<tbody>${rows.map(
    (
      r,
    ) => html`<tr><th scope="row"><a href="${pathOf("runs", run.id, "jobs", r.job.job_id)}">${r.job.job_id}</a></th>
<td>${waitText(r)}</td><td>+${duration(r.start)}</td><td>${r.job.finished_at ? html`+${duration(r.end)}` : "running"}</td><td class="axis">${bar(r, span)}</td></tr>`,
  )}</tbody></table></div>
<p class="hint">Grey: waiting for the jobs it needs; yellow: waiting for a free slot; then the job itself, coloured by how it ended.</p></section>`;
}
