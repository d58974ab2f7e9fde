// The public run summary: no sign-in, and only the summary columns (DESIGN.md invariant 5).
import type { FastifyRequest } from "fastify";
import { publicJobs, publicPage } from "./public-page.js";
import { type RouteContext, type RunParams, sendHtml } from "./route-kit.js";
import { notFoundPage } from "./run-pages.js";

export function publicRoutes(ctx: RouteContext): void {
  const { scope, opts, loadRun } = ctx;
  const { runs } = opts;
  // --- public summary (no sign-in) ----------------------------------------------------------
  async function publicData(id: string) {
    const run = await loadRun(id);
    if (!run || !opts.publicSummary) return undefined;
    const policy = await opts.publicSummary(run);
    if (!policy.enabled) return undefined;
    return { run, jobs: publicJobs(await runs.jobs(run.id), policy) };
  }

  scope.get("/public/runs/:run", async (req: FastifyRequest<RunParams>, reply) => {
    const data = await publicData(req.params.run);
    // Unknown and not-shared look the same, so the page says nothing about private runs.
    if (!data)
      return sendHtml(reply, 404, notFoundPage(undefined, "No public summary for this run."));
    return sendHtml(reply, 200, publicPage(data.run, data.jobs));
  });

  scope.get("/api/public/runs/:run", async (req: FastifyRequest<RunParams>, reply) => {
    const data = await publicData(req.params.run);
    if (!data) return reply.code(404).send({ error: "no public summary for this run" });
    const { run } = data;
    return {
      run: { id: run.id, repo: run.repo, pr: run.pr, sha: run.sha, status: run.status },
      jobs: data.jobs,
    };
  });
}
