// The private console (runs, run pages, logs, live streams, actions, secrets, audit) and the
// public run summary. Private routes sit behind Auth.guard; the public one reads only the
// summary columns (DESIGN.md invariant 5).
import { createReadStream } from "node:fs";
import { Readable } from "node:stream";
import formbody from "@fastify/formbody";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { AuditQueryError } from "../../store/audit-query.js";
import type { JobRow, RunFilter, RunRow } from "../../store/index.js";
import { lastLinesOf, stripAnsi } from "../../store/log-text.js";
import type { RunStatus } from "../../store/schema.js";
import { Auth, type Principal } from "../auth/auth.js";
import { secretsPage } from "./admin-pages.js";
import { CONSOLE_CSS, CONSOLE_JS } from "./assets.js";
import {
  type AuditView,
  auditPage,
  exportLines,
  exportRecord,
  parseAuditParams,
  rawFilters,
} from "./audit-page.js";
import { securityHeadersHook } from "./headers.js";
import { ASSET_BASE, pathOf } from "./html.js";
import { inboxPage, inboxResultPage } from "./inbox-page.js";
import { logPage } from "./log-page.js";
import { fileSize, lastPageStart, readPage, searchLog } from "./log-reader.js";
import { FINAL_JOB_STATES } from "./model.js";
import { publicJobs, publicPage } from "./public-page.js";
import { messagePage, notFoundPage, RUN_STATUSES, runPage, runsListPage } from "./run-pages.js";
import { parseResume, streamLog } from "./stream.js";
import type { ActionResult, ConsoleOptions, RunRef } from "./types.js";

type RunParams = { Params: { run: string } };
type JobParams = { Params: { run: string; job: string } };

const ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$/;
const REPO = /^[A-Za-z0-9_.-]{1,100}\/[A-Za-z0-9_.-]{1,100}$/;
const SHA = /^[0-9a-f]{40}$/;

function int(v: unknown, min: number, max: number): number | undefined {
  if (typeof v !== "string" || !/^\d{1,15}$/.test(v)) return undefined;
  const n = Number(v);
  return Math.max(min, Math.min(n, max));
}

/** A Content-Disposition that no file name can break out of (quotes, line breaks, non-ASCII). */
function attachment(name: string): string {
  const plain = name.replace(/[^A-Za-z0-9._-]/g, "_");
  return `attachment; filename="${plain}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}

function sendHtml(reply: FastifyReply, code: number, body: string) {
  return reply.code(code).type("text/html; charset=utf-8").send(body);
}

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

const cursorOf = (v: AuditView) => ({
  limit: v.limit,
  ...(v.before !== undefined ? { before: v.before } : {}),
  ...(v.after !== undefined ? { after: v.after } : {}),
});

const runRef = (r: RunRow): RunRef => ({ id: r.id, repo: r.repo, pr: r.pr, sha: r.sha });

/** Registers the console. `opts.auth` is what registerAuth answered. */
export async function registerConsole(app: FastifyInstance, opts: ConsoleOptions): Promise<void> {
  const { auth, runs, logs } = opts;
  const pageLines = opts.pageLines ?? 1000;
  const pageRuns = opts.pageRuns ?? 50;
  const pageAudit = opts.pageAudit ?? 50;
  const pollMs = opts.pollMs ?? 200;
  /** The signed-in principal, with the server's warnings every page shows. */
  const viewer = (req: FastifyRequest): Principal =>
    opts.notices?.length ? { ...Auth.of(req), notices: opts.notices } : Auth.of(req);

  async function loadRun(id: string): Promise<RunRow | undefined> {
    return ID.test(id) ? runs.get(id) : undefined;
  }

  async function loadJob(
    runId: string,
    jobId: string,
  ): Promise<{ run: RunRow; job: JobRow } | undefined> {
    if (!ID.test(jobId)) return undefined;
    const run = await loadRun(runId);
    if (!run) return undefined;
    const job = (await runs.jobs(run.id)).find((j) => j.job_id === jobId);
    return job ? { run, job } : undefined;
  }

  async function jobFinal(runId: string, jobId: string): Promise<boolean> {
    const job = (await runs.jobs(runId)).find((j) => j.job_id === jobId);
    return !job || FINAL_JOB_STATES.has(job.state);
  }

  await app.register(async (scope) => {
    await scope.register(formbody, { bodyLimit: 16_384 });
    scope.addHook("onRequest", securityHeadersHook);
    const page = { preHandler: auth.guard("page") };
    const api = { preHandler: auth.guard("api") };

    // --- assets (public: they hold no data) ---------------------------------------------------
    scope.get(`${ASSET_BASE}/console.js`, async (_req, reply) =>
      reply
        .type("text/javascript; charset=utf-8")
        .header("cache-control", "max-age=300")
        .send(CONSOLE_JS),
    );
    scope.get(`${ASSET_BASE}/console.css`, async (_req, reply) =>
      reply
        .type("text/css; charset=utf-8")
        .header("cache-control", "max-age=300")
        .send(CONSOLE_CSS),
    );

    scope.get("/favicon.ico", async (_req, reply) => reply.code(204).send());
    scope.get("/", async (_req, reply) => reply.redirect("/runs", 303));

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
        const pg = await readPage(logs.pathOf(found.run.id, found.job.job_id), from, count, {
          final,
        });
        return { ...pg, final };
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

    scope.get(
      "/runs/:run/jobs/:job/log.txt",
      api,
      async (req: FastifyRequest<JobParams>, reply) => {
        const found = await loadJob(req.params.run, req.params.job);
        if (!found) return reply.code(404).send({ error: "no such job" });
        const file = logs.pathOf(found.run.id, found.job.job_id);
        const name = `${found.run.id}-${found.job.job_id}.log`;
        reply
          .type("text/plain; charset=utf-8")
          .header("content-disposition", `attachment; filename="${name}"`);
        if ((await fileSize(file)) === 0) return reply.send("");
        return reply.send(createReadStream(file));
      },
    );

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

    // --- actions --------------------------------------------------------------------------------
    const actions: Record<
      string,
      {
        title: string;
        run: (r: RunRef, p: Principal, body: Record<string, unknown>) => Promise<ActionResult>;
      }
    > = {
      approve: {
        title: "Approve",
        run: async (r, p, body) => {
          // The SHA the member saw on the page: if the run moved on meanwhile, nothing is approved.
          if (body.sha !== r.sha) {
            return {
              ok: false,
              message: "The commit changed since the page was shown: review it again.",
            };
          }
          return opts.actions.approve(r, r.sha, p.actor);
        },
      },
      cancel: { title: "Cancel", run: (r, p) => opts.actions.cancel(r, p.actor) },
      "rerun-failed": {
        title: "Re-run failed jobs",
        run: (r, p) => opts.actions.rerunFailed(r, p.actor),
      },
      "run-all": { title: "Run all tests", run: (r, p) => opts.actions.runAll(r, p.actor) },
    };

    scope.post(
      "/runs/:run/:action",
      page,
      async (
        req: FastifyRequest<{
          Params: { run: string; action: string };
          Body: Record<string, unknown>;
        }>,
        reply,
      ) => {
        const p = viewer(req);
        const action = Object.hasOwn(actions, req.params.action)
          ? actions[req.params.action]
          : undefined;
        const run = await loadRun(req.params.run);
        if (!action || !run) return sendHtml(reply, 404, notFoundPage(p, "No such run or action."));
        const body = req.body && typeof req.body === "object" ? req.body : {};
        if (!auth.csrfOk(req, p, body._csrf)) {
          return reply.code(403).send({
            error: "refused: the form was not sent from this console (CSRF check failed)",
          });
        }
        let result: ActionResult;
        try {
          result = await action.run(runRef(run), p, body);
        } catch {
          result = { ok: false, message: "The action failed; see Airlock's log." };
        }
        await opts.audit.record({
          action: `console-${req.params.action}`,
          actor: p.actor,
          runId: run.id,
          detail: `${result.ok ? "done" : "refused"}: ${result.message}`.slice(0, 500),
        });
        return sendHtml(
          reply,
          result.ok ? 200 : 409,
          messagePage(p, action.title, result.message, pathOf("runs", run.id)),
        );
      },
    );

    // --- the approval inbox ---------------------------------------------------------------------
    const waiting = () => opts.waits?.waiting() ?? Promise.resolve([]);

    scope.get("/approvals", page, async (req, reply) =>
      sendHtml(
        reply,
        200,
        inboxPage({
          principal: viewer(req),
          waits: await waiting(),
          githubWebUrl: opts.githubWebUrl,
        }),
      ),
    );

    scope.get("/api/approvals", api, async () => ({ waiting: await waiting() }));

    scope.post(
      "/approvals/approve",
      page,
      async (req: FastifyRequest<{ Body: Record<string, unknown> }>, reply) => {
        const p = viewer(req);
        const body = req.body && typeof req.body === "object" ? req.body : {};
        if (!auth.csrfOk(req, p, body._csrf)) {
          return reply.code(403).send({
            error: "refused: the form was not sent from this console (CSRF check failed)",
          });
        }
        const pr = int(body.pr, 1, Number.MAX_SAFE_INTEGER);
        const { repo, sha } = body;
        if (typeof repo !== "string" || !REPO.test(repo) || pr === undefined) {
          return sendHtml(reply, 400, inboxResultPage(p, false, "No such pull request."));
        }
        if (typeof sha !== "string" || !SHA.test(sha)) {
          return sendHtml(
            reply,
            400,
            inboxResultPage(p, false, "Name the commit by its full SHA."),
          );
        }
        let result: ActionResult;
        try {
          result = await opts.actions.approveCommit({ repo, pr, sha }, p.actor);
        } catch {
          result = { ok: false, message: "The approval failed; see Airlock's log." };
        }
        await opts.audit.record({
          action: "console-approve",
          actor: p.actor,
          detail:
            `${repo}#${pr} at ${sha}: ${result.ok ? "done" : "refused"}: ${result.message}`.slice(
              0,
              500,
            ),
        });
        return sendHtml(
          reply,
          result.ok ? 200 : 409,
          inboxResultPage(p, result.ok, result.message),
        );
      },
    );

    // --- secrets and audit ----------------------------------------------------------------------
    scope.get("/secrets", page, async (req, reply) => {
      const sets = opts.secrets ? await opts.secrets.listSets() : null;
      return sendHtml(reply, 200, secretsPage(viewer(req), sets));
    });

    /** The audit view the query string asks for, or the message naming its bad parameter. */
    const auditView = (q: Record<string, unknown>): AuditView | { error: string } => {
      try {
        return parseAuditParams(q, pageAudit);
      } catch (e) {
        if (e instanceof AuditQueryError) return { error: e.message };
        throw e;
      }
    };
    type AuditRequest = FastifyRequest<{ Querystring: Record<string, unknown> }>;

    scope.get("/audit", page, async (req: AuditRequest, reply) => {
      const view = auditView(req.query);
      if ("error" in view) {
        const body = auditPage(viewer(req), { error: view.error, raw: rawFilters(req.query) });
        return sendHtml(reply, 400, body);
      }
      const result = await opts.audit.page(view.query, cursorOf(view));
      return sendHtml(reply, 200, auditPage(viewer(req), { view, result }));
    });

    scope.get("/api/audit", api, async (req: AuditRequest, reply) => {
      const view = auditView(req.query);
      if ("error" in view) return reply.code(400).send({ error: view.error });
      const result = await opts.audit.page(view.query, cursorOf(view));
      return { ...result, items: result.items.map(exportRecord) };
    });

    // Downloads use the page guard: a signed-out reader following the link signs in first.
    for (const format of ["csv", "jsonl"] as const) {
      scope.get(`/audit.${format}`, page, async (req: AuditRequest, reply) => {
        const view = auditView(req.query);
        if ("error" in view) return reply.code(400).send({ error: view.error });
        const cursor =
          view.before !== undefined ? "before" : view.after !== undefined ? "after" : null;
        if (cursor) {
          return reply.code(400).send({
            error: `${cursor}: a download holds every matching entry; it takes filters only`,
          });
        }
        const stamp = new Date().toISOString().replace(/[-:]/g, "").slice(0, 15);
        reply
          .type(
            format === "csv" ? "text/csv; charset=utf-8" : "application/x-ndjson; charset=utf-8",
          )
          .header(
            "content-disposition",
            `attachment; filename="airlock-audit-${stamp}Z.${format}"`,
          );
        return reply.send(Readable.from(exportLines(opts.audit.scan(view.query), format)));
      });
    }

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
  });
}
