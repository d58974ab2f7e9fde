// GET /metrics: Prometheus text exposition of the gateway's registry.
import type { FastifyInstance } from "fastify";
import type { GatewayMetrics } from "../metrics.js";

export async function metricsRoute(app: FastifyInstance, opts: { metrics: GatewayMetrics }) {
  app.get("/metrics", async (_req, reply) => {
    const text = await opts.metrics.registry.metrics();
    return reply.type(opts.metrics.registry.contentType).send(text);
  });
}
