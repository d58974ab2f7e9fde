// The approval inbox: commits waiting for an approval across repositories, the longest waiting
// first, each with its author, what it changes, which rules apply and how many approvals each
// still needs, what changed since the last approved commit, and a one-click approval of that
// exact commit. Titles and paths are the PR author's text: `html` escapes every value.
import type { ApprovalWait } from "../../store/index.js";
import type { Principal } from "../auth/auth.js";
import { duration, html, page, type SafeHtml, time } from "./html.js";
import { user } from "./run-pages.js";

const SHOWN_PATHS = 8;
const REPO = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/;
const short = (sha: string) => sha.slice(0, 12);

function links(w: ApprovalWait, webUrl: string) {
  if (!REPO.test(w.repo) || !/^[0-9a-f]{40}$/.test(w.sha)) return {};
  const base = `${webUrl.replace(/\/+$/, "")}/${w.repo}`;
  return { pr: `${base}/pull/${w.pr}`, commit: `${base}/commit/${w.sha}` };
}

/** The forge's compare page (from its API, stored with the wait): a web link, nothing else. */
const webLink = (url: string) => /^https?:\/\//i.test(url);

function pathList(paths: string[], count: number): SafeHtml {
  if (count === 0) return html`<span class="meta">not known</span>`;
  const more = count - Math.min(paths.length, SHOWN_PATHS);
  return html`<ul class="paths">${paths.slice(0, SHOWN_PATHS).map((p) => html`<li><code>${p}</code></li>`)}</ul>${
    more > 0 ? html`<span class="meta">and ${more} more</span>` : ""
  }`;
}

function needs(w: ApprovalWait): SafeHtml {
  const reqs = w.view.requirements;
  if (reqs.length === 0) return html`an approval from a trusted member`;
  return html`<ul class="rules">${reqs.map((r) => {
    const so = r.by.length ? html` (so far: ${r.by.join(", ")})` : "";
    const where =
      r.missing === 0
        ? html`<span class="badge s-passed">met</span>`
        : html`<span class="badge s-pending">${r.missing} more needed</span>`;
    const name = r.name === "default" ? "Every commit" : html`Rule <strong>${r.name}</strong>`;
    return html`<li>${name}: ${r.text}${so} ${where}</li>`;
  })}</ul>${w.view.incomplete ? html`<p class="meta">The forge listed only part of the changed files: every rule applies.</p>` : ""}${
    w.view.scoped
      ? html`<p class="meta">Running meanwhile (scope of ${w.view.scoped.bot}): ${w.view.scoped.jobs.join(", ")}</p>`
      : ""
  }`;
}

function delta(w: ApprovalWait): SafeHtml {
  const d = w.view.delta;
  if (!d) return html`<span class="meta">no earlier approval</span>`;
  const files = `${d.count} file${d.count === 1 ? "" : "s"}`;
  return html`${webLink(d.url) ? html`<a href="${d.url}">${files}</a>` : files} since <code>${short(d.fromSha)}</code>${
    d.approvedBy.length ? ` (approved by ${d.approvedBy.join(", ")})` : ""
  }${d.rewritten ? html` <strong>history was rewritten: review the whole pull request</strong>` : ""}${pathList(d.paths, d.count)}`;
}

function approveForm(w: ApprovalWait, p: Principal): SafeHtml {
  if (p.via !== "github") {
    return html`<span class="meta">Approving is for a GitHub member: sign in with GitHub.</span>`;
  }
  return html`<form method="post" action="/approvals/approve">
<input type="hidden" name="_csrf" value="${p.csrf ?? ""}">
<input type="hidden" name="repo" value="${w.repo}">
<input type="hidden" name="pr" value="${w.pr}">
<input type="hidden" name="sha" value="${w.sha}">
<button type="submit" aria-label="Approve ${short(w.sha)} of ${w.repo}#${w.pr}">Approve ${short(w.sha)}</button></form>`;
}

export function inboxPage(o: {
  principal: Principal;
  waits: ApprovalWait[];
  githubWebUrl?: string | undefined;
  now?: number;
}): string {
  const now = o.now ?? Date.now();
  const web = o.githubWebUrl ?? "https://github.com";
  // One element per cell: on a phone each row is a card of label/value pairs.
  const cell = (label: string, body: SafeHtml | string) =>
    html`<td data-label="${label}"><div>${body}</div></td>`;
  const rows = o.waits.map((w) => {
    const l = links(w, web);
    const sha = html`<code>${short(w.sha)}</code>`;
    return html`<tr>
${cell("Waiting", html`<span title="${time(w.since)}">${duration(now - w.since)}</span>`)}
${cell("Pull request", html`${l.pr ? html`<a href="${l.pr}">${w.repo}#${w.pr}</a>` : `${w.repo}#${w.pr}`}<div>${w.title}</div>`)}
${cell("Author", w.author)}
${cell("Commit", l.commit ? html`<a href="${l.commit}">${sha}</a>` : sha)}
${cell("Changed", pathList(w.view.paths, w.view.pathCount))}
${cell("Needs", needs(w))}
${cell("Since the last approval", delta(w))}
${cell("Approve", approveForm(w, o.principal))}
</tr>`;
  });
  const table = o.waits.length
    ? html`<div class="scroll"><table class="inbox cards">
<caption class="sr">Commits waiting for an approval, the longest waiting first</caption>
<thead><tr><th scope="col">Waiting</th><th scope="col">Pull request</th><th scope="col">Author</th><th scope="col">Commit</th><th scope="col">Changed paths</th><th scope="col">Approval needed</th><th scope="col">Since the last approval</th><th scope="col">Approve</th></tr></thead>
<tbody>${rows}</tbody></table></div>`
    : html`<p class="notice" role="status">No commit is waiting for an approval.</p>`;
  return page({
    title: "Approvals",
    current: "approvals",
    user: user(o.principal),
    body: html`<h1>Approvals</h1>
<p class="meta">Commits whose restricted jobs wait for a trusted member's approval, the longest waiting first. Review the changes first: an approval lets that exact commit run with the secrets its jobs declare; a new push voids it.</p>
${table}`,
  });
}

export function inboxResultPage(p: Principal, ok: boolean, message: string): string {
  const title = ok ? "Approved" : "Not approved";
  return page({
    title,
    current: "approvals",
    user: user(p),
    body: html`<h1>${title}</h1><p class="notice${ok ? "" : " error"}" role="status">${message}</p><p><a href="/approvals">Back to the approvals</a></p>`,
  });
}
