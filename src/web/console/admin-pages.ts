// The secrets inventory: metadata only (sets, keys, versions, rotation), never a value.
import type { Principal } from "../auth/auth.js";
import { html, page, time } from "./html.js";
import { user } from "./run-pages.js";
import type { SecretSetMeta } from "./types.js";

export function secretsPage(p: Principal, sets: SecretSetMeta[] | null): string {
  const body =
    sets === null
      ? html`<p>No secrets inventory is configured for this console.</p>`
      : sets.length === 0
        ? html`<p>No secret sets are configured.</p>`
        : sets.map(
            (
              s,
            ) => html`<section aria-labelledby="set-${s.name}"><h2 id="set-${s.name}">${s.name}</h2>
<p class="meta">Backend: ${s.backend} · Jobs that may receive it: ${s.jobs.length ? s.jobs.join(", ") : "none"}</p>
${s.error ? html`<p class="notice error">${s.error}</p>` : ""}
${
  s.keys.length
    ? html`<div class="scroll"><table><caption class="sr">Keys of ${s.name}</caption>
<thead><tr><th scope="col">Key</th><th scope="col">Current version</th><th scope="col">Kept versions</th><th scope="col">Updated</th><th scope="col">Last rotation</th><th scope="col">Rotation</th></tr></thead>
<tbody>${s.keys.map(
        (
          k,
        ) => html`<tr><td><code>${k.key}</code></td><td>v${k.version}</td><td>${k.versions.map((v) => `v${v}`).join(", ")}</td>
<td>${time(k.updatedAt)}</td><td>${time(k.rotatedAt)}</td><td>${s.rotationDue.includes(k.key) ? html`<span class="badge s-failed">due</span>` : "ok"}</td></tr>`,
      )}</tbody></table></div>`
    : html`<p>No keys stored in this set.</p>`
}</section>`,
          );
  return page({
    title: "Secrets",
    current: "secrets",
    user: user(p),
    body: html`<h1>Secrets</h1><p>Names, versions and rotation dates. Values are never shown here.</p>${body}`,
  });
}
