// The gateway's HTTP server. Routes are plugins so each keeps its own body parsers; the lead's
// API and console routes register beside these through `extraRoutes`.
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import type { Intake } from "../gateway/intake.js";
import type { GatewayMetrics } from "./metrics.js";
import { healthzRoute } from "./routes/healthz.js";
import { metricsRoute } from "./routes/metrics.js";
import { webhookRoute } from "./routes/webhook.js";

export interface ServerOptions {
  intake: Intake;
  metrics: GatewayMetrics;
  /** A pino logger; none by default. */
  logger?: FastifyBaseLogger;
  /** Overrides the 25 MB delivery cap (tests only). */
  bodyLimit?: number;
  health?: () => boolean;
  extraRoutes?: (app: FastifyInstance) => Promise<void> | void;
}

export async function createServer(opts: ServerOptions): Promise<FastifyInstance> {
  const app = Fastify({
    // The default request serializers log method, URL and status; never headers (signatures).
    ...(opts.logger ? { loggerInstance: opts.logger } : { logger: false }),
    trustProxy: false,
    return503OnClosing: true,
  });
  await app.register(webhookRoute, {
    intake: opts.intake,
    metrics: opts.metrics,
    ...(opts.bodyLimit !== undefined ? { bodyLimit: opts.bodyLimit } : {}),
  });
  await app.register(healthzRoute, opts.health ? { check: opts.health } : {});
  await app.register(metricsRoute, { metrics: opts.metrics });
  if (opts.extraRoutes) await opts.extraRoutes(app);
  return app;
}
