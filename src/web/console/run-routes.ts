// The runs list, the run page and what jobs kept (artifacts), as pages and as JSON.
import { createReadStream } from "node:fs";
import type { FastifyRequest } from "fastify";
import type { RunFilter } from "../../store/index.js";
import { lastLinesOf } from "../../store/log-text.js";
import type { RunStatus } from "../../store/schema.js";
import { failuresOf } from "./failures-section.js";
import { attachment, int, type RouteContext, type RunParams, sendHtml } from "./route-kit.js";
import { runPage } from "./run-page.js";
import { notFoundPage, RUN_STATUSES, runsListPage } from "./run-pages.js";

function filterOf(q: Record<string, string | undefined>): RunFilter {
  const status = RUN_STATUSES.find((s) => s === q.status) as RunStatus | undefined;
  const pr = int(q.pr, 1, Number.MAX_SAFE_INTEGER);
  return {
    ...(q.repo ? { repo: q.repo.slice(0, 300) } : {}),
    ...(pr !== undefined ? { pr } : {}),
    ...(status ? { status } : {}),
    ...(q.job ? { job: q.job.slice(0, 300) } : {}),
  };
}

export function runRoutes(ctx: RouteContext): void {
  const { scope, opts, page, api, viewer, loadRun, loadJob } = ctx;
  const { runs, logs } = opts;
  const pageRuns = opts.pageRuns ?? 50;
  // --- runs list ------------------------------------------------------------------------------
  scope.get(
    "/runs",
    page,
    async (req: FastifyRequest<{ Querystring: Record<string, string> }>, reply) => {
      const filter = filterOf(req.query);
      const offset = int(req.query.offset, 0, 1_000_000) ?? 0;
      const { rows, more } = await runs.list(filter, { limit: pageRuns, offset });
      const states = await runs.jobStates(rows.map((r) => r.id));
      return sendHtml(
        reply,
        200,
        runsListPage({
          principal: viewer(req),
          filter,
          rows,
          states,
          offset,
          limit: pageRuns,
          more,
        }),
      );
    },
  );

  scope.get(
    "/api/runs",
    api,
    async (req: FastifyRequest<{ Querystring: Record<string, string> }>, reply) => {
      const filter = filterOf(req.query);
      const offset = int(req.query.offset, 0, 1_000_000) ?? 0;
      const limit = int(req.query.limit, 1, 200) ?? pageRuns;
      const { rows, more } = await runs.list(filter, { limit, offset });
      return reply.send({ runs: rows, more, offset, limit });
    },
  );

  // --- run page -------------------------------------------------------------------------------
  scope.get("/runs/:run", page, async (req: FastifyRequest<RunParams>, reply) => {
    const p = viewer(req);
    const run = await loadRun(req.params.run);
    if (!run) return sendHtml(reply, 404, notFoundPage(p, "No such run."));
    const [jobs, audit, artifacts] = await Promise.all([
      runs.jobs(run.id),
      opts.audit.list({ run: run.id, limit: 50 }),
      opts.artifacts?.list(run.id) ?? [],
    ]);
    return sendHtml(
      reply,
      200,
      runPage({
        principal: p,
        run,
        jobs,
        lastLines: await lastLinesOf(logs, run.id, jobs),
        failures: await failuresOf(jobs, (job) => logs.pathOf(run.id, job)),
        audit,
        artifacts,
        ...(opts.githubWebUrl ? { githubWebUrl: opts.githubWebUrl } : {}),
      }),
    );
  });

  scope.get("/api/runs/:run", api, async (req: FastifyRequest<RunParams>, reply) => {
    const run = await loadRun(req.params.run);
    if (!run) return reply.code(404).send({ error: "no such run" });
    return { run, jobs: await runs.jobs(run.id) };
  });

  // --- artifacts ------------------------------------------------------------------------------
  scope.get("/api/runs/:run/artifacts", api, async (req: FastifyRequest<RunParams>, reply) => {
    const run = await loadRun(req.params.run);
    if (!run) return reply.code(404).send({ error: "no such run" });
    const kept = (await opts.artifacts?.list(run.id)) ?? [];
    return { artifacts: kept.map((m) => ({ job: m.jobId, files: m.files })) };
  });

  // Always a download, never shown on the console's origin: a kept page's script would run
  // with the member's session. Only a name the job's manifest lists is opened.
  scope.get(
    "/runs/:run/jobs/:job/artifacts/*",
    page,
    async (req: FastifyRequest<{ Params: { run: string; job: string; "*": string } }>, reply) => {
      const found = await loadJob(req.params.run, req.params.job);
      const kept = found
        ? await opts.artifacts?.file(found.run.id, found.job.job_id, req.params["*"])
        : null;
      if (!kept) return sendHtml(reply, 404, notFoundPage(viewer(req), "No such artifact."));
      const name = kept.entry.path.split("/").pop()!;
      reply
        .type(kept.entry.text ? "text/plain; charset=utf-8" : "application/octet-stream")
        .header("content-disposition", attachment(name));
      return reply.send(createReadStream(kept.file));
    },
  );
}
