// What a member does from the console: the run page's buttons and the approval inbox. Every form
// carries the session's CSRF token and every outcome goes to the audit log.
import type { FastifyRequest } from "fastify";
import type { Principal } from "../auth/auth.js";
import { pathOf } from "./html.js";
import { inboxPage, inboxResultPage } from "./inbox-page.js";
import { int, REPO, type RouteContext, runRef, SHA, sendHtml } from "./route-kit.js";
import { messagePage, notFoundPage } from "./run-pages.js";
import type { ActionResult, RunRef } from "./types.js";

export function actionRoutes(ctx: RouteContext): void {
  const { scope, opts, page, api, viewer, loadRun } = ctx;
  const { auth } = opts;
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
        return sendHtml(reply, 400, inboxResultPage(p, false, "Name the commit by its full SHA."));
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
      return sendHtml(reply, result.ok ? 200 : 409, inboxResultPage(p, result.ok, result.message));
    },
  );
}
