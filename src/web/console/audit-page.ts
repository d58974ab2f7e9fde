// The audit log in the console: filters and keyset cursors read from the query string (so a
// filtered view is a link), the page, and the CSV / JSON-lines downloads. Audit entries name sets,
// keys and versions, never values; they are escaped like any other text.
import {
  AUDIT_KINDS,
  type AuditQuery,
  AuditQueryError,
  type AuditQueryInput,
  parseAuditCursor,
  parseAuditQuery,
} from "../../store/audit-query.js";
import type { Principal } from "../auth/auth.js";
import { html, page, pathOf, query, type SafeHtml, time } from "./html.js";
import { user } from "./run-pages.js";
import type { AuditItem, AuditPageResult } from "./types.js";

const FILTERS = ["kind", "run", "set", "actor", "since", "until"] as const;
const PARAMS = new Set<string>([...FILTERS, "before", "after", "limit"]);

export interface AuditView {
  query: AuditQuery;
  /** The filters as given, to fill the form and build links. */
  raw: AuditQueryInput;
  before?: number;
  after?: number;
  limit: number;
  /** Set only when `limit` was given, so links keep it. */
  limitParam?: number;
}

/** The filter values as given, for the form when the query string is refused. */
export function rawFilters(q: Record<string, unknown>): AuditQueryInput {
  const raw: AuditQueryInput = {};
  for (const k of FILTERS) {
    const v = q[k];
    if (typeof v === "string" && v.trim()) raw[k] = v.trim().slice(0, 200);
  }
  return raw;
}

/** Reads /audit's query string; throws AuditQueryError naming the first bad parameter. */
export function parseAuditParams(q: Record<string, unknown>, defaultLimit: number): AuditView {
  const raw: AuditQueryInput = {};
  const one = (name: string): string | undefined => {
    const v = q[name];
    if (v === undefined) return undefined;
    if (typeof v !== "string") throw new AuditQueryError(name, "give it once");
    return v.trim();
  };
  for (const k of Object.keys(q)) {
    if (!PARAMS.has(k)) {
      throw new AuditQueryError(
        k.slice(0, 40),
        `unknown parameter; the audit log takes ${[...PARAMS].join(", ")}`,
      );
    }
  }
  for (const k of FILTERS) {
    const v = one(k);
    if (v) raw[k] = v;
  }
  const query = parseAuditQuery(raw);
  const before = parseAuditCursor("before", one("before"));
  const after = parseAuditCursor("after", one("after"));
  if (before !== undefined && after !== undefined) {
    throw new AuditQueryError("after", "give either before or after, not both");
  }
  const limitText = one("limit");
  let limitParam: number | undefined;
  if (limitText) {
    if (!/^\d{1,4}$/.test(limitText) || Number(limitText) < 1 || Number(limitText) > 500) {
      throw new AuditQueryError("limit", "a number of entries from 1 to 500");
    }
    limitParam = Number(limitText);
  }
  return {
    query,
    raw,
    limit: limitParam ?? defaultLimit,
    ...(limitParam !== undefined ? { limitParam } : {}),
    ...(before !== undefined ? { before } : {}),
    ...(after !== undefined ? { after } : {}),
  };
}

const filtersOf = (v: Pick<AuditView, "raw" | "limitParam">) => ({
  ...v.raw,
  limit: v.limitParam,
});

/** Versions as the run page shows grants: `KEY v3`; values never reach the log, so none here. */
function versionsText(v: unknown): string {
  if (v === null || v === undefined) return "";
  if (Array.isArray(v)) return v.map((x) => `v${String(x)}`).join(", ");
  if (typeof v === "object") {
    return Object.entries(v as Record<string, unknown>)
      .map(([k, x]) =>
        x === "env"
          ? `${k} (environment)`
          : Array.isArray(x)
            ? `${k} ${x.map((y) => `v${String(y)}`).join("|")}`
            : `${k} v${typeof x === "object" ? JSON.stringify(x) : String(x)}`,
      )
      .join(", ");
  }
  return String(v);
}

function row(a: AuditItem): SafeHtml {
  const iso = new Date(a.at).toISOString();
  // One span per cell: on a phone the cell is a two-column grid (label, content), and loose
  // text beside a link would otherwise take a grid row of its own. Empty cells stay empty so
  // the phone layout can hide them.
  const cell = (label: string, body: SafeHtml | string) =>
    html`<td role="cell" data-label="${label}">${body === "" ? "" : html`<span>${body}</span>`}</td>`;
  return html`<tr role="row" id="e${a.seq}">
${cell("Entry", html`<a href="/audit${query({ before: a.seq + 1 })}#e${a.seq}" title="Link to this entry">#${a.seq}</a>`)}
${cell("When", html`<time datetime="${iso}">${time(a.at)}</time>`)}
${cell("Who", html`<a href="/audit${query({ actor: a.actor })}" title="Only entries by ${a.actor}">${a.actor}</a>`)}
${cell("Action", a.action)}
${cell("Run / job", a.runId ? html`<a href="${pathOf("runs", a.runId)}">${a.runId}</a>${a.jobId ? html` / <span class="nw">${a.jobId}</span>` : ""}` : "")}
${cell("Set / key", a.set ? html`<a href="/audit${query({ set: a.set })}" title="Only entries about ${a.set}">${a.set}</a>${a.key ? html` / <span class="nw">${a.key}</span>` : ""}` : (a.key ?? ""))}
${cell("Versions", versionsText(a.versions))}
${cell("Detail", a.detail ?? "")}</tr>`;
}

function kindSelect(current: string | undefined): SafeHtml {
  const opt = (value: string, label: string) =>
    html`<option value="${value}"${current === value ? html` selected` : ""}>${label}</option>`;
  // An exact action from a link (kind=rotate) stays selected when the form is sent again.
  const extra =
    current && !AUDIT_KINDS.some((k) => k.value === current) ? opt(current, current) : "";
  return html`<select id="f-kind" name="kind"><option value="">any</option>${AUDIT_KINDS.map((k) => opt(k.value, k.label))}${extra}</select>`;
}

function form(raw: AuditQueryInput, limitParam: number | undefined): SafeHtml {
  const text = (name: "run" | "set" | "actor", label: string) =>
    html`<label for="f-${name}">${label}</label><input id="f-${name}" name="${name}" value="${raw[name] ?? ""}" autocomplete="off" spellcheck="false">`;
  const when = (name: "since" | "until", label: string) =>
    html`<label for="f-${name}">${label}</label><input id="f-${name}" name="${name}" value="${raw[name] ?? ""}" autocomplete="off" spellcheck="false" placeholder="2024-05-01 13:45" aria-describedby="f-time-hint">`;
  return html`<form class="filters audit-filters" method="get" action="/audit" role="search" aria-label="Filter the audit log">
<div class="field"><label for="f-kind">Kind</label>${kindSelect(raw.kind)}</div>
<div class="field">${text("run", "Run")}</div>
<div class="field">${text("set", "Secret set")}</div>
<div class="field">${text("actor", "Who")}</div>
<div class="field">${when("since", "From (UTC)")}</div>
<div class="field">${when("until", "Until (UTC, inclusive)")}</div>
${limitParam !== undefined ? html`<input type="hidden" name="limit" value="${limitParam}">` : ""}
<div class="field buttons"><button type="submit">Filter</button> <a href="/audit">Clear</a></div>
<p id="f-time-hint" class="hint">Dates or times in UTC, as the table shows them: 2024-05-01, 2024-05-01 13:45 or 2024-05-01 13:45:12.</p>
</form>`;
}

export function auditPage(
  p: Principal,
  o: { view: AuditView; result: AuditPageResult } | { error: string; raw: AuditQueryInput },
): string {
  const raw = "view" in o ? o.view.raw : o.raw;
  const limitParam = "view" in o ? o.view.limitParam : undefined;
  const filters = filtersOf({ raw, limitParam });
  const filtered = Object.values(raw).some((v) => v);
  let body: SafeHtml;
  if ("error" in o) {
    body = html`<p class="notice error" role="alert">${o.error}</p>`;
  } else {
    const { items, newerAfter, olderBefore } = o.result;
    const atNewest = newerAfter === null;
    const pager = html`<nav class="pager" aria-label="Audit pages">
${atNewest ? "" : html`<a href="/audit${query(filters)}">Newest</a>`}
${newerAfter !== null ? html`<a href="/audit${query({ ...filters, after: newerAfter })}" rel="prev">Newer</a>` : ""}
${olderBefore !== null ? html`<a href="/audit${query({ ...filters, before: olderBefore })}" rel="next">Older</a>` : ""}
</nav>`;
    body = items.length
      ? html`<p class="meta" id="audit-range" role="status">Entries #${items[0]?.seq} to #${items.at(-1)?.seq}, newest first${filtered ? ", filtered" : ""}.</p>
<div class="scroll"><table class="audit cards" role="table" aria-describedby="audit-range"><caption class="sr">Audit entries, newest first</caption>
<thead><tr role="row"><th scope="col" role="columnheader">Entry</th><th scope="col" role="columnheader">When (UTC)</th><th scope="col" role="columnheader">Who</th><th scope="col" role="columnheader">Action</th><th scope="col" role="columnheader">Run / job</th><th scope="col" role="columnheader">Set / key</th><th scope="col" role="columnheader">Versions</th><th scope="col" role="columnheader">Detail</th></tr></thead>
<tbody>${items.map(row)}</tbody></table></div>
${pager}`
      : html`<p role="status">No entries${filtered ? " match these filters" : ""}${"view" in o && (o.view.before !== undefined || o.view.after !== undefined) ? " on this page" : ""}.</p>${pager}`;
  }
  return page({
    title: "Audit",
    current: "audit",
    user: user(p),
    body: html`<h1>Audit log</h1>
<p>Approvals, secret releases to jobs, reveals, secret changes, tokens, sign-ins and console actions. Entries name sets, keys and versions, never values.</p>
${form(raw, limitParam)}
<p class="downloads">Download ${filtered ? "these entries" : "the whole log"}: <a href="/audit.csv${query({ ...raw })}" download>CSV</a> · <a href="/audit.jsonl${query({ ...raw })}" download>JSON lines</a></p>
${body}`,
  });
}

export interface ExportRecord {
  seq: number;
  time: string;
  actor: string;
  action: string;
  run: string | null;
  job: string | null;
  set: string | null;
  key: string | null;
  versions: unknown;
  detail: string | null;
}

export function exportRecord(a: AuditItem): ExportRecord {
  return {
    seq: a.seq,
    time: new Date(a.at).toISOString(),
    actor: a.actor,
    action: a.action,
    run: a.runId,
    job: a.jobId,
    set: a.set,
    key: a.key,
    versions: a.versions ?? null,
    detail: a.detail,
  };
}

const CSV_HEADER = "seq,time,actor,action,run,job,set,key,versions,detail\r\n";

function csvCell(v: string | number | null): string {
  if (v === null) return "";
  let s = String(v);
  // A spreadsheet runs a cell that starts like a formula; actors and details can come from
  // outside the team, so such a cell is kept as text.
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function csvLine(r: ExportRecord): string {
  return `${[
    r.seq,
    r.time,
    r.actor,
    r.action,
    r.run,
    r.job,
    r.set,
    r.key,
    r.versions === null ? null : JSON.stringify(r.versions),
    r.detail,
  ]
    .map(csvCell)
    .join(",")}\r\n`;
}

/** The download body, line by line, newest first. */
export async function* exportLines(
  entries: AsyncIterable<AuditItem>,
  format: "csv" | "jsonl",
): AsyncGenerator<string> {
  if (format === "csv") yield CSV_HEADER;
  for await (const a of entries) {
    const r = exportRecord(a);
    yield format === "csv" ? csvLine(r) : `${JSON.stringify(r)}\n`;
  }
}
