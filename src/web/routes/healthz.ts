// GET /healthz: liveness plus a cheap check that the database answers.
import type { FastifyInstance } from "fastify";

export interface HealthzOptions {
  /** Throws or returns false when the gateway cannot serve. */
  check?: () => boolean | Promise<boolean>;
}

export async function healthzRoute(app: FastifyInstance, opts: HealthzOptions) {
  app.get("/healthz", async (_req, reply) => {
    let ok = true;
    try {
      ok = opts.check ? await opts.check() : true;
    } catch {
      ok = false;
    }
    return reply.code(ok ? 200 : 503).send({ status: ok ? "ok" : "unavailable" });
  });
}
