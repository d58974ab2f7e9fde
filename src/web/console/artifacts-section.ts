// The "Artifacts" section of a run page: what each job kept, linked for download. Paths are
// job-chosen text: every one passes `html`, and links are built segment by segment.
import type { ArtifactManifest } from "../../artifacts/store.js";
import { formatBytes } from "../../config/size.js";
import { html, pathOf, type SafeHtml } from "./html.js";

/** The link that downloads one kept file. */
export const artifactHref = (runId: string, jobId: string, rel: string): string =>
  pathOf("runs", runId, "jobs", jobId, "artifacts", ...rel.split("/"));

export function artifactsSection(runId: string, kept: ArtifactManifest[]): SafeHtml | "" {
  if (kept.length === 0) return "";
  return html`<section aria-labelledby="artifacts"><h2 id="artifacts">Artifacts</h2>
${kept.map(
  (
    m,
  ) => html`<h3>${m.jobId}</h3><div class="scroll"><table><caption class="sr">Files kept by ${m.jobId}</caption>
<thead><tr><th scope="col">File</th><th scope="col">Size</th><th scope="col">Kind</th></tr></thead>
<tbody>${m.files.map(
    (f) =>
      html`<tr><td><a href="${artifactHref(runId, m.jobId, f.path)}" download>${f.path}</a></td><td>${formatBytes(f.size)}</td><td>${f.text ? "text (passed the redactor)" : "binary"}</td></tr>`,
  )}</tbody></table></div>`,
)}
</section>`;
}
