// Server-side HTML that is escaped by construction: every value interpolated into `html` is
// escaped unless it is itself the result of `html`. Job names, branches, labels, test names and
// log lines come from untrusted pull requests, so nothing reaches a page any other way.

const SAFE = Symbol("safe-html");

export interface SafeHtml {
  readonly [SAFE]: true;
  readonly text: string;
}

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
  "`": "&#96;",
};

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"'`]/g, (c) => ESCAPES[c] ?? c);
}

/** Marks text that is already HTML. Only for fragments this program built. */
export function trusted(text: string): SafeHtml {
  return { [SAFE]: true, text };
}

function isSafe(v: unknown): v is SafeHtml {
  return typeof v === "object" && v !== null && (v as SafeHtml)[SAFE] === true;
}

type Value = SafeHtml | string | number | boolean | null | undefined | readonly Value[];

function render(v: Value): string {
  if (v === null || v === undefined || v === false || v === true) return "";
  if (Array.isArray(v)) return v.map(render).join("");
  if (isSafe(v)) return v.text;
  return escapeHtml(String(v));
}

export function html(strings: TemplateStringsArray, ...values: Value[]): SafeHtml {
  let out = strings[0] ?? "";
  for (let i = 0; i < values.length; i++)
    out += render(values[i] as Value) + (strings[i + 1] ?? "");
  return trusted(out);
}

/** A query string from fixed keys and untrusted values (each percent-encoded). */
export function query(params: Record<string, string | number | undefined | null>): string {
  const parts = Object.entries(params)
    .filter(([, v]) => v !== undefined && v !== null && v !== "")
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`);
  return parts.length ? `?${parts.join("&")}` : "";
}

/** A path from fixed text and untrusted segments, each percent-encoded. */
export function pathOf(...segments: (string | number)[]): string {
  return `/${segments.map((s) => encodeURIComponent(String(s))).join("/")}`;
}

export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || ms < 0) return "—";
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  return `${Math.floor(m / 60)}h ${m % 60}m`;
}

export function time(ms: number | null | undefined): string {
  if (!ms) return "—";
  return new Date(ms).toISOString().replace("T", " ").slice(0, 19);
}

export interface PageOptions {
  title: string;
  /** Signed-in user; absent on public pages and the sign-in page. */
  user?: { actor: string; csrf: string | null; notices?: readonly string[] };
  /** Which main navigation entry is current. */
  current?: "runs" | "approvals" | "secrets" | "audit";
  body: SafeHtml;
}

export const ASSET_BASE = "/console/assets";

/** The page frame: landmarks, a skip link, navigation, and the one script and style sheet. */
export function page(o: PageOptions): string {
  const nav = (key: PageOptions["current"], href: string, label: string) =>
    html`<li><a href="${href}"${o.current === key ? trusted(' aria-current="page"') : ""}>${label}</a></li>`;
  const header = o.user
    ? html`<header class="top"><a class="brand" href="/runs">Airlock</a>
<nav aria-label="Main"><ul>${nav("runs", "/runs", "Runs")}${nav("approvals", "/approvals", "Approvals")}${nav("secrets", "/secrets", "Secrets")}${nav("audit", "/audit", "Audit")}</ul></nav>
<form class="signout" method="post" action="/logout"><input type="hidden" name="_csrf" value="${o.user.csrf ?? ""}"><span class="who">${o.user.actor}</span> <button type="submit">Sign out</button></form></header>`
    : html`<header class="top"><span class="brand">Airlock</span></header>`;
  const notices = (o.user?.notices ?? []).map((n) => html`<p class="notice" role="alert">${n}</p>`);
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${o.title} · Airlock</title><link rel="stylesheet" href="${ASSET_BASE}/console.css">
<script src="${ASSET_BASE}/console.js" defer></script></head>
<body><a class="skip" href="#main">Skip to content</a>${header}${notices}
<main id="main" tabindex="-1">${o.body}</main></body></html>
`.text;
}
