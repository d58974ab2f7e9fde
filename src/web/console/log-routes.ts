// One job's log: the paged view with search, the JSON pages, the download and the live stream.
import { createReadStream } from "node:fs";
import type { FastifyRequest } from "fastify";
import { stripAnsi } from "../../store/log-text.js";
import { lineTimes } from "../../store/log-times.js";
import { logPage } from "./log-page.js";
import { fileSize, lastPageStart, readPage, searchLog } from "./log-reader.js";
import { FINAL_JOB_STATES } from "./model.js";
import { int, type JobParams, type RouteContext, sendHtml } from "./route-kit.js";
import { notFoundPage } from "./run-pages.js";
import { parseResume, streamLog } from "./stream.js";

export function logRoutes(ctx: RouteContext): void {
  const { scope, opts, page, api, viewer, loadJob, jobFinal } = ctx;
  const { logs } = opts;
  const pageLines = opts.pageLines ?? 1000;
  const pollMs = opts.pollMs ?? 200;
  // --- logs -----------------------------------------------------------------------------------
  scope.get(
    "/runs/:run/jobs/:job",
    page,
    async (req: FastifyRequest<JobParams & { Querystring: Record<string, string> }>, reply) => {
      const p = viewer(req);
      const found = await loadJob(req.params.run, req.params.job);
      if (!found) return sendHtml(reply, 404, notFoundPage(p, "No such job."));
      const { run, job } = found;
      const file = logs.pathOf(run.id, job.job_id);
      const final = FINAL_JOB_STATES.has(job.state);
      const q = typeof req.query.q === "string" ? req.query.q.slice(0, 200) : "";
      let from = int(req.query.from, 1, Number.MAX_SAFE_INTEGER);
      // A running job opens at its tail, where new lines arrive; a finished one at the start.
      from ??= final ? 1 : await lastPageStart(file, pageLines);
      const pg = await readPage(file, from, pageLines, { final });
      const search = q
        ? {
            q,
            result: await searchLog(
              file,
              q,
              {
                line: int(req.query.line, 1, Number.MAX_SAFE_INTEGER) ?? 1,
                byte: int(req.query.byte, 0, Number.MAX_SAFE_INTEGER) ?? 0,
              },
              { normalize: stripAnsi },
            ),
          }
        : undefined;
      return sendHtml(
        reply,
        200,
        logPage({
          principal: p,
          run,
          job,
          page: pg,
          from,
          pageLines,
          times: await lineTimes(file, from, pg.nextLine - 1),
          stamps: req.query.ts === "1",
          ...(search ? { search } : {}),
        }),
      );
    },
  );

  scope.get(
    "/api/runs/:run/jobs/:job/log",
    api,
    async (req: FastifyRequest<JobParams & { Querystring: Record<string, string> }>, reply) => {
      const found = await loadJob(req.params.run, req.params.job);
      if (!found) return reply.code(404).send({ error: "no such job" });
      const final = FINAL_JOB_STATES.has(found.job.state);
      const from = int(req.query.from, 1, Number.MAX_SAFE_INTEGER) ?? 1;
      const count = int(req.query.lines, 1, 5000) ?? pageLines;
      const file = logs.pathOf(found.run.id, found.job.job_id);
      const pg = await readPage(file, from, count, { final });
      // `at`: when the line was written (ms), for logs that keep times.
      const times = await lineTimes(file, from, pg.nextLine - 1);
      const lines = pg.lines.map((l) => (times.has(l.n) ? { ...l, at: times.get(l.n) } : l));
      return { ...pg, lines, final };
    },
  );

  scope.get(
    "/api/runs/:run/jobs/:job/log/search",
    api,
    async (req: FastifyRequest<JobParams & { Querystring: Record<string, string> }>, reply) => {
      const found = await loadJob(req.params.run, req.params.job);
      if (!found) return reply.code(404).send({ error: "no such job" });
      const q = typeof req.query.q === "string" ? req.query.q.slice(0, 200) : "";
      if (!q) return reply.code(400).send({ error: "give the text to search for as ?q=" });
      return searchLog(
        logs.pathOf(found.run.id, found.job.job_id),
        q,
        {
          line: int(req.query.line, 1, Number.MAX_SAFE_INTEGER) ?? 1,
          byte: int(req.query.byte, 0, Number.MAX_SAFE_INTEGER) ?? 0,
        },
        { normalize: stripAnsi },
      );
    },
  );

  scope.get("/runs/:run/jobs/:job/log.txt", api, async (req: FastifyRequest<JobParams>, reply) => {
    const found = await loadJob(req.params.run, req.params.job);
    if (!found) return reply.code(404).send({ error: "no such job" });
    const file = logs.pathOf(found.run.id, found.job.job_id);
    const name = `${found.run.id}-${found.job.job_id}.log`;
    reply
      .type("text/plain; charset=utf-8")
      .header("content-disposition", `attachment; filename="${name}"`);
    if ((await fileSize(file)) === 0) return reply.send("");
    return reply.send(createReadStream(file));
  });

  scope.get(
    "/runs/:run/jobs/:job/log/stream",
    api,
    async (
      req: FastifyRequest<JobParams & { Querystring: { line?: string; byte?: string } }>,
      reply,
    ) => {
      const found = await loadJob(req.params.run, req.params.job);
      if (!found) return reply.code(404).send({ error: "no such job" });
      const { run, job } = found;
      streamLog(req, reply, {
        file: logs.pathOf(run.id, job.job_id),
        finished: () => jobFinal(run.id, job.job_id),
        pollMs,
        from: parseResume(req),
      });
    },
  );
}
