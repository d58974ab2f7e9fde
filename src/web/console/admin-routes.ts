// The secrets page (metadata only) and the audit log with its downloads.
import { Readable } from "node:stream";
import type { FastifyRequest } from "fastify";
import { AuditQueryError } from "../../store/audit-query.js";
import { secretsPage } from "./admin-pages.js";
import {
  type AuditView,
  auditPage,
  exportLines,
  exportRecord,
  parseAuditParams,
  rawFilters,
} from "./audit-page.js";
import { type RouteContext, sendHtml } from "./route-kit.js";

const cursorOf = (v: AuditView) => ({
  limit: v.limit,
  ...(v.before !== undefined ? { before: v.before } : {}),
  ...(v.after !== undefined ? { after: v.after } : {}),
});
export function adminRoutes(ctx: RouteContext): void {
  const { scope, opts, page, api, viewer } = ctx;
  const pageAudit = opts.pageAudit ?? 50;
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
        .type(format === "csv" ? "text/csv; charset=utf-8" : "application/x-ndjson; charset=utf-8")
        .header("content-disposition", `attachment; filename="airlock-audit-${stamp}Z.${format}"`);
      return reply.send(Readable.from(exportLines(opts.audit.scan(view.query), format)));
    });
  }
}
