// GET /healthz: the process is alive and answers, for a supervisor deciding whether to restart it.
// A storage fault does not fail it: a restart would not mend a full or read-only disk.
// GET /readyz: the gateway can take work now (its store accepts a write, the disk reserve is
// free), for a load balancer or an operator deciding whether to send it deliveries; 503 names
// what is wrong.
import type { FastifyInstance } from "fastify";

export interface HealthOptions {
  /** What keeps the gateway from taking work now (none: it is ready). */
  ready?: () => Promise<string[]>;
}

export async function healthRoutes(app: FastifyInstance, opts: HealthOptions) {
  app.get("/healthz", async (_req, reply) => reply.code(200).send({ status: "ok" }));
  app.get("/readyz", async (_req, reply) => {
    let problems: string[];
    try {
      problems = opts.ready ? await opts.ready() : [];
    } catch (e) {
      problems = [`readiness could not be checked: ${e instanceof Error ? e.message : String(e)}`];
    }
    if (problems.length === 0) return reply.code(200).send({ status: "ready" });
    return reply.code(503).send({ status: "unavailable", problems });
  });
}
