// The "Network" section of a job's page: where a job with a network allow list connected, what
// was refused, and the allow list that fits what it did. Every text passes `html`.

import { formatBytes } from "../../config/size.js";
import { type EgressRecord, suggestAllowlist } from "../../egress/record.js";
import { html, type SafeHtml } from "./html.js";

export function egressSection(r: EgressRecord | null): SafeHtml | "" {
  if (!r) return "";
  const verdict = (v: string) =>
    html`<span class="badge s-${v === "refused" ? "failed" : v === "audit" ? "running" : "passed"}">${v}</span>`;
  const rows = r.entries.map(
    (e) => html`<tr><td>${e.via === "dns" ? "DNS" : e.via === "connect" ? "tunnel" : "HTTP"}</td>
<td><code>${e.host}</code></td><td>${e.port ?? "—"}</td><td>${e.address ?? "—"}</td><td>${verdict(e.verdict)}</td>
<td>${e.count}</td><td>${formatBytes(e.bytesOut)}</td><td>${formatBytes(e.bytesIn)}</td><td>${[e.reason, e.error].filter(Boolean).join("; ")}</td></tr>`,
  );
  const suggested = suggestAllowlist(r);
  const yaml = `network:\n  allow:\n${suggested.map((s) => `    - ${JSON.stringify(s)}\n`).join("")}`;
  return html`<section aria-labelledby="egress"><h2 id="egress">Network</h2>
<p>${r.mode === "audit" ? "Audit mode: every connection was let through; the verdict is what the allow list would have said." : "Only the hosts in the job's allow list were reachable."}
${r.entries.length} destinations${r.dropped ? html`, and ${r.dropped} more attempts not itemised` : ""}.</p>
${
  r.entries.length
    ? html`<div class="scroll"><table><caption class="sr">Connections of this job</caption>
<thead><tr><th scope="col">Via</th><th scope="col">Host</th><th scope="col">Port</th><th scope="col">Address</th><th scope="col">Verdict</th><th scope="col">Count</th><th scope="col">Sent</th><th scope="col">Received</th><th scope="col">Why</th></tr></thead>
<tbody>${rows}</tbody></table></div>`
    : ""
}
${suggested.length ? html`<p>This job connected to: ${suggested.join(", ")}. An allow list that fits:</p><pre><code>${yaml}</code></pre>` : html`<p>This job connected nowhere.</p>`}
</section>`;
}
