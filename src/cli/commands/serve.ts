// `airlock serve`: the GitHub App gateway and the web console. Webhooks are verified and stored by
// intake, then handed one by one to the gateway's flow by the processing loop. Without a GitHub
// App (embedded mode) it serves the console over the local data directory and prints a one-time
// sign-in link.
import { existsSync, realpathSync } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import type { FastifyBaseLogger, FastifyInstance } from "fastify";
import { dispatchPublicKeyPem, loadOrCreateDispatchKey } from "../../dispatch/index.js";
import { type EventHandler, EventLoop } from "../../gateway/events.js";
import { Intake } from "../../gateway/intake.js";
import { readiness } from "../../gateway/readiness.js";
import { type Retention, RetentionChore } from "../../gateway/retention.js";
import { loadServeConfig, type ServeConfig, ServeConfigError } from "../../gateway/serve-config.js";
import type { HttpTimeouts } from "../../gateway/serve-settings.js";
import { type WiredFlow, wireFlow } from "../../gateway/wiring.js";
import { JobApi } from "../../jobapi/job-api.js";
import { OidcKeyStore } from "../../secrets/oidc/keys.js";
import { DEFAULT_DISK_RESERVE } from "../../store/disk-reserve.js";
import type { DatabaseOptions, EventQueue, OpenedStore } from "../../store/index.js";
import { LogStore } from "../../store/logs.js";
import { createConsoleLink } from "../../web/auth/console-link.js";
import { GatewayMetrics } from "../../web/metrics.js";
import { createServer } from "../../web/server.js";
import { UserError } from "../errors.js";
import { openStoreFor, withStore } from "../open-store.js";
import { projectDirOf } from "../project-dir.js";
import { createRunnerDeps } from "../runner-deps.js";
import { registerServeConsole } from "../serve-console.js";
import { logFormat, serveLogger } from "../serve-log.js";

/** Something that handles events and runs beside the loop: the gateway's decide→run→report flow. */
export interface GatewayService {
  handler: EventHandler;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface GatewayOptions {
  /** None: no webhook is accepted (embedded mode, no GitHub App). */
  webhookSecrets: string[];
  dataDir: string;
  /** The database (the serve config's and environment's choice); none: the data directory's SQLite. */
  database?: DatabaseOptions | undefined;
  listen: { host: string; port: number };
  /** The event handler; or a `service` built on the gateway's own database connection. */
  handler?: EventHandler;
  /**
   * Built on the gateway's connection, so that the writes its handler registers join the
   * transaction that marks an event done. Started before the loop, stopped after it.
   */
  service?: (db: OpenedStore) => GatewayService;
  logger?: FastifyBaseLogger;
  /** Options of the processing loop (tests shorten the backoff). */
  maxAttempts?: number;
  backoffMs?: (attempt: number) => number;
  extraRoutes?: (app: FastifyInstance, db: OpenedStore) => Promise<void> | void;
  /** The OIDC issuer URL (the public URL); default: the address the server listens on. */
  issuer?: string;
  /** Served beside the webhook, for jobs running elsewhere. */
  jobApi?: JobApi;
  /** How long a client may take to send a request (the documented defaults otherwise). */
  timeouts?: HttpTimeouts;
  /** Free space kept on the data directory's disk (default 1 GiB): /readyz fails below it. */
  diskReserveBytes?: number;
  /** Finished records are pruned by this policy (on one gateway at a time); none: kept. */
  retention?: Retention;
}

export interface RunningGateway {
  app: FastifyInstance;
  db: OpenedStore;
  events: EventQueue;
  loop: EventLoop;
  metrics: GatewayMetrics;
  /** The bound address, e.g. http://127.0.0.1:43123. */
  url: string;
  close(): Promise<void>;
}

/** Opens the store, starts the service and the processing loop, then the HTTP server. */
export async function startGateway(o: GatewayOptions): Promise<RunningGateway> {
  const db = await openStoreFor({
    dataDir: o.dataDir,
    env: process.env,
    database: o.database,
    offThreadCheckpoints: true,
  });
  const events = db.events;
  let service: GatewayService | undefined;
  try {
    service = o.service?.(db);
  } catch (e) {
    await db.close();
    throw e;
  }
  const handler = service?.handler ?? o.handler;
  if (!handler) {
    await db.close();
    throw new Error("startGateway needs a handler or a service");
  }
  const metrics = new GatewayMetrics({
    queueDepth: () => events.depth(),
    defaultMetrics: true,
  });
  const log = o.logger;
  const loop = new EventLoop({
    store: events,
    handler,
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
    onStoreError: (message, pauseMs) =>
      log?.error({ message, pauseMs }, "the store failed: events wait, then processing goes on"),
  });
  const intake =
    o.webhookSecrets.length > 0
      ? new Intake({
          secrets: o.webhookSecrets,
          store: events,
          onStored: (stored) => loop.notify(stored),
        })
      : undefined;
  let dispatchPem: string | undefined;
  let url = "";
  const app = await createServer({
    ...(intake ? { intake } : {}),
    metrics,
    ...(log ? { logger: log } : {}),
    ready: readiness({
      probeWrite: () => db.probeWrite(),
      dataDir: o.dataDir,
      diskReserveBytes: o.diskReserveBytes ?? DEFAULT_DISK_RESERVE,
    }),
    dispatchKey: () => {
      dispatchPem ??= dispatchPublicKeyPem(o.dataDir);
      return dispatchPem;
    },
    oidc: {
      issuer: () => o.issuer ?? url,
      // Publishing reads the public keys only: no master key is needed.
      keys: new OidcKeyStore({ db }),
    },
    ...(o.extraRoutes ? { extraRoutes: (a: FastifyInstance) => o.extraRoutes!(a, db) } : {}),
    ...(o.jobApi ? { jobApi: o.jobApi } : {}),
    ...(o.timeouts ? { timeouts: o.timeouts } : {}),
  });
  await service?.start();
  await loop.start();
  const chore = o.retention
    ? new RetentionChore({
        store: db,
        dataDir: o.dataDir,
        retention: o.retention,
        ...(log ? { log } : {}),
      })
    : undefined;
  chore?.start();
  try {
    url = await app.listen({ host: o.listen.host, port: o.listen.port });
  } catch (e) {
    await chore?.stop();
    await loop.stop();
    await service?.stop();
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
      // Stop taking deliveries first, then let the event in hand finish, then the runs.
      await app.close();
      await chore?.stop();
      await loop.stop();
      await service?.stop();
      await db.close();
    },
  };
}

/** What the console warns every signed-in member of while it is so. */
export function serveNotices(config: ServeConfig): string[] {
  return config.limits.allowUnlimitedPublicJobs
    ? [
        "limits.allow_unlimited_public_jobs is on: where this machine has no usable cgroups, public jobs run without memory and process limits, and a pull request from anyone can exhaust its memory and processes. Turn it off in the serve config once `airlock doctor` shows cgroups working.",
      ]
    : [];
}

/** Embedded mode receives no deliveries; should one be stored, it is recorded, never acted on. */
function logOnlyHandler(log: FastifyBaseLogger): EventHandler {
  return async (event, ctx) => {
    const action = "action" in event ? event.action : undefined;
    const repo = "repo" in event ? event.repo.fullName : undefined;
    log.info({ delivery: ctx.deliveryId, kind: event.kind, action, repo }, "event received");
  };
}

export interface ServeOptions {
  config?: string;
  listen?: string;
  dir: string;
  dataDir?: string;
}

/** The serve config as `airlock serve` reads it (its file, the environment, -C and --data-dir). */
export function loadConfig(opts: ServeOptions, env: NodeJS.ProcessEnv = process.env): ServeConfig {
  let projectDir = path.resolve(opts.dir);
  if (!existsSync(projectDir)) {
    throw new UserError(`-C ${opts.dir}: no such directory; name the project directory`);
  }
  // The same directory `airlock run` resolves: from a subfolder, the nearest .airlock.yml above
  // it; and as git names it, with symlinks resolved.
  projectDir = realpathSync(projectDirOf(projectDir));
  try {
    return loadServeConfig({
      ...(opts.config ? { file: opts.config } : {}),
      projectDir,
      ...(opts.dataDir ? { dataDir: opts.dataDir } : {}),
      ...(opts.listen ? { listen: opts.listen } : {}),
      env,
    });
  } catch (e) {
    if (e instanceof ServeConfigError) throw new UserError(e.message);
    throw e;
  }
}

/** The decide → run → report flow over the gateway's connection, jobs on their executors. */
function flowService(config: ServeConfig, log: FastifyBaseLogger, jobApi: JobApi) {
  return (db: OpenedStore): WiredFlow =>
    wireFlow({
      db,
      dataDir: config.dataDir,
      appId: config.appId,
      privateKey: config.privateKey,
      apiUrl: config.apiUrl,
      cloneBaseUrl: config.cloneUrl,
      ...(config.publicUrl ? { publicUrl: config.publicUrl } : {}),
      trustTtlMs: config.settings.trustCacheTtlMs,
      capacity: config.limits.capacity,
      log,
      runnerFor: async (pipeline, jobs, run) => {
        const b = await createRunnerDeps({
          store: db,
          dataDir: config.dataDir,
          config: pipeline,
          sandbox: true,
          logs: new LogStore(config.dataDir),
          jobs,
          actor: "airlock serve",
          warn: (m) => log.warn(m),
          // The issuer of ID tokens: the URL that serves its discovery document.
          issuer: config.publicUrl ?? `http://${config.listen.host}:${config.listen.port}`,
          executors: config.executors,
          jobApi,
          authorized: run?.authorized ?? false,
          egress: config.egress,
          limits: config.limits.policy,
          requireCgroups: !config.limits.allowUnlimitedPublicJobs,
          diskReserveBytes: config.settings.diskReserveBytes,
        });
        return {
          runner: b.runner,
          close: b.close,
          grantSet: (set, ctx) => b.secrets.grantSet(set, ctx),
          sweepers: b.sweepers,
        };
      },
    });
}

export function registerServe(program: Command): void {
  program
    .command("serve")
    .description(
      "Run the gateway and the web console; without a GitHub App, the console for local runs",
    )
    .option("-c, --config <file>", "serve config (YAML or JSON); the environment overrides it")
    .option("--listen <host:port>", "address to listen on (default 127.0.0.1:8080)")
    .option("-C, --dir <dir>", "the project directory, as for `airlock run`", ".")
    .option("--data-dir <dir>", "the data directory (default: $AIRLOCK_HOME or <project>/.airlock)")
    .option(
      "--init",
      "make a new database beside Airlock's files (keys, logs) left without one: starting over on purpose",
    )
    .option(
      "--no-init",
      "never make a new installation: refuse to start unless the data directory holds one (for a service's unit)",
    )
    .action(async (opts: ServeOptions & { init?: boolean }) => {
      const config = loadConfig(opts);
      // Before anything is written to the data directory: a missing, empty or damaged database is
      // refused; a new installation is made only where nothing of Airlock's is (docs/operations.md).
      const made = await withStore(
        {
          dataDir: config.dataDir,
          env: process.env,
          database: config.database,
          init: opts.init === true ? "init" : opts.init === false ? "refuse" : "first-use",
          verify: true,
        },
        async (s) => (s.madeInstallation ? s.location : undefined),
      );
      const format = logFormat(process.env, process.stdout.isTTY);
      const log = serveLogger(format, process.stdout, process.env.AIRLOCK_LOG_LEVEL ?? "info");
      if (made) {
        log.warn(
          `NEW INSTALLATION: nothing of Airlock's was in ${config.dataDir}, so a new one was made there (database ${made}). If one should have been there, stop now: the data directory is not the one you meant (--data-dir, AIRLOCK_HOME) or its volume is not mounted; airlock serve --no-init refuses instead`,
        );
      }
      for (const n of serveNotices(config)) log.warn(n);
      if (config.embedded) {
        process.stderr.write(
          `airlock: no GitHub App is configured: serving the console for the runs in ${config.dataDir}; webhooks are not processed (see docs/github-app.md to add the App)\n`,
        );
      }
      let wired: WiredFlow | undefined;
      let gw: RunningGateway | undefined;
      // Jobs on Kubernetes fetch their source and secrets here with their one-time token.
      const key = loadOrCreateDispatchKey(config.dataDir);
      const jobApi = new JobApi({ privateKey: key.privateKey, publicKey: key.publicKey });
      try {
        gw = await startGateway({
          webhookSecrets: config.webhookSecrets,
          dataDir: config.dataDir,
          ...(config.database ? { database: config.database } : {}),
          listen: config.listen,
          ...(config.publicUrl ? { issuer: config.publicUrl } : {}),
          jobApi,
          timeouts: config.settings.http,
          diskReserveBytes: config.settings.diskReserveBytes,
          retention: config.retention,
          ...(config.embedded
            ? { handler: logOnlyHandler(log) }
            : {
                service: (db: OpenedStore) => {
                  wired = flowService(config, log, jobApi)(db);
                  return wired;
                },
              }),
          logger: log,
          extraRoutes: (app, db) =>
            registerServeConsole(app, {
              db,
              dataDir: config.dataDir,
              projectDir: config.projectDir,
              ...(wired ? { github: wired } : {}),
              ...(config.oauth ? { oauth: config.oauth } : {}),
              apiUrl: config.apiUrl,
              webUrl: config.cloneUrl,
              ...(config.publicUrl ? { publicUrl: config.publicUrl } : {}),
              trustProxy: config.trustProxy,
              notify: () => gw?.loop.notify(),
              log,
              notices: serveNotices(config),
            }),
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
      const running = gw;
      jobApi.url = config.publicUrl ?? running.url;
      log.info({ url: running.url, config }, "airlock gateway listening");
      // Handlers first: a Ctrl-C typed the moment the link shows must stop the server cleanly.
      const stopped = new Promise<void>((resolve) => {
        const stop = (signal: string) => {
          log.info({ signal }, "shutting down");
          process.off("SIGTERM", onTerm);
          process.off("SIGINT", onInt);
          running.close().then(resolve, (e) => {
            log.error({ message: String(e) }, "shutdown failed");
            resolve();
          });
        };
        const onTerm = () => stop("SIGTERM");
        const onInt = () => stop("SIGINT");
        process.on("SIGTERM", onTerm);
        process.on("SIGINT", onInt);
      });
      if (config.embedded) {
        // Whoever can read this output on the machine may open the console: the link works once.
        // It goes to stderr, apart from the log lines on stdout.
        const link = await createConsoleLink(running.db.sessions, running.url);
        process.stderr.write(
          format === "pretty"
            ? `\nOpen the console with this sign-in link (it works once):\nconsole: ${link}\n\n`
            : `console: ${link}\n`,
        );
      }
      await stopped;
    });
}
