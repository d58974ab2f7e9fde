// The gateway's HTTP server. Routes are plugins so each keeps its own body parsers; the console
// routes register beside these through `extraRoutes`.
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import type { Intake } from "../gateway/intake.js";
import { DEFAULT_HTTP_TIMEOUTS, type HttpTimeouts } from "../gateway/serve-settings.js";
import type { JobApi } from "../jobapi/job-api.js";
import type { GatewayMetrics } from "./metrics.js";
import { healthRoutes } from "./routes/health.js";
import { jobApiRoute } from "./routes/job-api.js";
import { metricsRoute } from "./routes/metrics.js";
import { type OidcRouteOptions, oidcRoutes } from "./routes/oidc.js";
import { webhookRoute } from "./routes/webhook.js";

export const DISPATCH_KEY_PATH = "/.well-known/airlock-dispatch-key";

export interface ServerOptions {
  /** None in embedded mode: no GitHub App, so deliveries are refused with a 503 that says why. */
  intake?: Intake;
  metrics: GatewayMetrics;
  /** A pino logger; none by default. */
  logger?: FastifyBaseLogger;
  /** Overrides the 25 MB delivery cap (tests only). */
  bodyLimit?: number;
  /** What keeps the gateway from taking work now (GET /readyz); /healthz only says it is alive. */
  ready?: () => Promise<string[]>;
  /** The PEM public key executors verify signed dispatches with; served when given. */
  dispatchKey?: () => string;
  /** The OIDC issuer's discovery document and JWKS; served when given. */
  oidc?: OidcRouteOptions;
  extraRoutes?: (app: FastifyInstance) => Promise<void> | void;
  /** The job API that jobs running elsewhere (Kubernetes pods) call with their token. */
  jobApi?: JobApi;
  /** How long a client may take (docs/operations.md); the documented defaults otherwise. */
  timeouts?: HttpTimeouts;
}

export async function createServer(opts: ServerOptions): Promise<FastifyInstance> {
  const t = opts.timeouts ?? DEFAULT_HTTP_TIMEOUTS;
  const app = Fastify({
    // A client that stalls in its headers or its body, or keeps an idle connection, is answered
    // 408 or closed, so that it cannot hold a connection. Node checks the first two on an
    // interval, a tenth of the shorter one here.
    http: {
      headersTimeout: t.headersMs,
      requestTimeout: t.requestMs,
      connectionsCheckingInterval: Math.max(50, Math.min(t.headersMs, t.requestMs) / 10),
    },
    requestTimeout: t.requestMs,
    keepAliveTimeout: t.idleMs,
    // The default request serializers log method, URL and status; never headers (signatures).
    ...(opts.logger ? { loggerInstance: opts.logger } : { logger: false }),
    trustProxy: false,
    return503OnClosing: true,
  });
  if (opts.intake) {
    await app.register(webhookRoute, {
      intake: opts.intake,
      metrics: opts.metrics,
      ...(opts.bodyLimit !== undefined ? { bodyLimit: opts.bodyLimit } : {}),
    });
  } else {
    app.post("/webhooks/github", async (_req, reply) =>
      reply.code(503).send({
        error:
          "no GitHub App is configured on this Airlock: set AIRLOCK_GITHUB_APP_ID, the private key and the webhook secret, then restart",
      }),
    );
  }
  await app.register(healthRoutes, opts.ready ? { ready: opts.ready } : {});
  await app.register(metricsRoute, { metrics: opts.metrics });
  if (opts.dispatchKey) {
    const key = opts.dispatchKey;
    // A public key: anyone may read it, so that an executor can pin it out of band.
    app.get(DISPATCH_KEY_PATH, async (_req, reply) =>
      reply.type("application/x-pem-file").header("cache-control", "max-age=300").send(key()),
    );
  }
  if (opts.oidc) await app.register(oidcRoutes, opts.oidc);
  if (opts.jobApi) await app.register(jobApiRoute, { jobApi: opts.jobApi });
  if (opts.extraRoutes) await opts.extraRoutes(app);
  return app;
}
