// `airlock serve`: the GitHub App gateway. Webhooks are verified and stored by intake, then
// handed one by one to the gateway's event handler by the processing loop.
import type { Command } from "commander";
import type { FastifyBaseLogger, FastifyInstance } from "fastify";
import { pino } from "pino";
import { type EventHandler, EventLoop } from "../../gateway/events.js";
import { Intake } from "../../gateway/intake.js";
import { loadServeConfig, ServeConfigError } from "../../gateway/serve-config.js";
import { type OpenedDb, openDb } from "../../store/db.js";
import { EventStore } from "../../store/events.js";
import { GatewayMetrics } from "../../web/metrics.js";
import { createServer } from "../../web/server.js";
import { UserError } from "../errors.js";

export interface GatewayOptions {
  webhookSecrets: string[];
  dataDir: string;
  listen: { host: string; port: number };
  handler: EventHandler;
  logger?: FastifyBaseLogger;
  /** Options of the processing loop (tests shorten the backoff). */
  maxAttempts?: number;
  backoffMs?: (attempt: number) => number;
  extraRoutes?: (app: FastifyInstance, db: OpenedDb) => Promise<void> | void;
}

export interface RunningGateway {
  app: FastifyInstance;
  db: OpenedDb;
  events: EventStore;
  loop: EventLoop;
  metrics: GatewayMetrics;
  /** The bound address, e.g. http://127.0.0.1:43123. */
  url: string;
  close(): Promise<void>;
}

/** Opens the store, starts the processing loop, then the HTTP server. */
export async function startGateway(o: GatewayOptions): Promise<RunningGateway> {
  const db = await openDb(o.dataDir);
  const events = new EventStore(db.sqlite);
  const metrics = new GatewayMetrics({
    queueDepth: () => events.queueDepth(),
    defaultMetrics: true,
  });
  const log = o.logger;
  const loop = new EventLoop({
    store: events,
    handler: o.handler,
    ...(o.maxAttempts !== undefined ? { maxAttempts: o.maxAttempts } : {}),
    ...(o.backoffMs ? { backoffMs: o.backoffMs } : {}),
    onProcessed: (outcome, seconds, ev) => {
      metrics.processed.inc({ outcome });
      metrics.processingSeconds.observe(seconds);
      log?.info({ delivery: ev.deliveryId, event: ev.name, outcome }, "event processed");
    },
    onError: (message, ev) =>
      log?.warn(
        { delivery: ev.deliveryId, event: ev.name, attempt: ev.attempts, message },
        "event handler failed",
      ),
  });
  const intake = new Intake({
    secrets: o.webhookSecrets,
    store: events,
    onStored: () => loop.notify(),
  });
  const app = await createServer({
    intake,
    metrics,
    ...(log ? { logger: log } : {}),
    health: () => db.sqlite.prepare("SELECT 1").get() !== undefined,
    ...(o.extraRoutes ? { extraRoutes: (a: FastifyInstance) => o.extraRoutes!(a, db) } : {}),
  });
  await loop.start();
  let url: string;
  try {
    url = await app.listen({ host: o.listen.host, port: o.listen.port });
  } catch (e) {
    await loop.stop();
    await db.close();
    throw e;
  }
  return {
    app,
    db,
    events,
    loop,
    metrics,
    url,
    async close() {
      // Stop taking deliveries first, then let the event in hand finish.
      await app.close();
      await loop.stop();
      await db.close();
    },
  };
}

/** Until the decide stage is wired in: record what arrived, never payload contents. */
function logOnlyHandler(log: FastifyBaseLogger): EventHandler {
  return async (event, ctx) => {
    const action = "action" in event ? event.action : undefined;
    const repo = "repo" in event ? event.repo.fullName : undefined;
    log.info({ delivery: ctx.deliveryId, kind: event.kind, action, repo }, "event received");
  };
}

export function registerServe(
  program: Command,
  handler?: (log: FastifyBaseLogger) => EventHandler,
): void {
  program
    .command("serve")
    .description("Run the GitHub App gateway: receive webhooks, gate and run jobs, report checks")
    .option("-c, --config <file>", "serve config (YAML or JSON); the environment overrides it")
    .option("--listen <host:port>", "address to listen on (default 127.0.0.1:8080)")
    .action(async (opts: { config?: string; listen?: string }) => {
      let config: ReturnType<typeof loadServeConfig>;
      try {
        const env = opts.listen ? { ...process.env, AIRLOCK_LISTEN: opts.listen } : process.env;
        config = loadServeConfig({ ...(opts.config ? { file: opts.config } : {}), env });
      } catch (e) {
        if (e instanceof ServeConfigError) throw new UserError(e.message);
        throw e;
      }
      const log = pino({ level: process.env.AIRLOCK_LOG_LEVEL ?? "info" }) as FastifyBaseLogger;
      let gw: RunningGateway;
      try {
        gw = await startGateway({
          webhookSecrets: config.webhookSecrets,
          dataDir: config.dataDir,
          listen: config.listen,
          handler: (handler ?? logOnlyHandler)(log),
          logger: log,
        });
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === "EADDRINUSE" || code === "EACCES") {
          throw new UserError(
            `cannot listen on ${config.listen.host}:${config.listen.port} (${code}); choose another with --listen`,
          );
        }
        throw e;
      }
      log.info({ url: gw.url, config }, "airlock gateway listening");
      await new Promise<void>((resolve) => {
        const stop = (signal: string) => {
          log.info({ signal }, "shutting down");
          process.off("SIGTERM", onTerm);
          process.off("SIGINT", onInt);
          gw.close().then(resolve, (e) => {
            log.error({ message: String(e) }, "shutdown failed");
            resolve();
          });
        };
        const onTerm = () => stop("SIGTERM");
        const onInt = () => stop("SIGINT");
        process.on("SIGTERM", onTerm);
        process.on("SIGINT", onInt);
      });
    });
}
