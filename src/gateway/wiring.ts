// Assembles the decide → run → report flow over one open database: GitHub App clients per
// installation, the outbox, the PR code mirror and the event handler. `airlock serve` builds one
// of these and hands `handler` to the processing loop.
import { githubApp } from "../forge/github/app.js";
import type { Forge } from "../forge/types.js";
import type { Store } from "../store/index.js";
import { TrustRegistry } from "../trust/registry.js";
import { type FlowLogger, type FlowOptions, PrFlow } from "./flow/index.js";
import { Outbox, type OutboxOptions } from "./outbox/index.js";
import { PrSource } from "./pr-source.js";
import type { Capacity } from "./serve-limits.js";

export interface FlowWiringOptions {
  db: Store;
  dataDir: string;
  appId: number;
  /** PEM of the App's private key. */
  privateKey: string;
  /** REST API root, e.g. https://api.github.com. */
  apiUrl: string;
  /** Where repositories are cloned from, e.g. https://github.com. */
  cloneBaseUrl: string;
  /** Airlock's public base URL, for links to the private run pages. */
  publicUrl?: string;
  runnerFor: FlowOptions["runnerFor"];
  /** Jobs and runs at once, and the fair share (default DEFAULT_CAPACITY). */
  capacity?: Capacity;
  /** Jobs at once within a run, and runs at once: win over `capacity` (tests). */
  concurrency?: number;
  maxRuns?: number;
  /** Attempts of a run whose execution fails (default 3); a restart or a lost gateway spends none. */
  maxAttempts?: number;
  /** How long a trust answer is reused when no membership event says it changed (default 60 s). */
  trustTtlMs?: number;
  log?: FlowLogger;
  /** Outbox tuning (tests shorten the backoff). */
  outbox?: Partial<Omit<OutboxOptions, "forgeFor" | "appId" | "log">>;
}

export interface WiredFlow {
  flow: PrFlow;
  outbox: Outbox;
  handler: PrFlow["handler"];
  /** The forge as one installation sees it (shared with the flow, so its token cache is too). */
  forgeFor(installationId: number): Forge;
  /** Trust answers, shared with the flow (a membership event makes both forget them). */
  trust: TrustRegistry;
  /** Starts delivering the outbox and taking up interrupted runs. */
  start(): Promise<void>;
  /** Stops runs (taken up again at the next start) and the outbox. */
  stop(): Promise<void>;
}

export function wireFlow(o: FlowWiringOptions): WiredFlow {
  const github = githubApp({ apiUrl: o.apiUrl, appId: o.appId, privateKey: o.privateKey });
  const forgeFor = github.forgeFor;
  const trust = new TrustRegistry(
    forgeFor,
    o.trustTtlMs !== undefined ? { ttlMs: o.trustTtlMs } : {},
  );
  const outbox = new Outbox(o.db, {
    forgeFor,
    appId: o.appId,
    ...(o.capacity ? { perInstallation: o.capacity.githubWritesPerInstallation } : {}),
    ...(o.log ? { log: o.log } : {}),
    ...o.outbox,
  });
  const source = new PrSource({
    dataDir: o.dataDir,
    cloneBaseUrl: o.cloneBaseUrl,
    token: github.token,
  });
  const flow = new PrFlow({
    store: o.db,
    runs: o.db.runs,
    approvals: o.db.approvals,
    waits: o.db.waits,
    requests: o.db.requests,
    labels: o.db.labels,
    outbox,
    source,
    forgeFor,
    trust,
    runnerFor: o.runnerFor,
    ...(o.publicUrl ? { publicUrl: o.publicUrl } : {}),
    webUrl: o.cloneBaseUrl,
    ...(o.capacity ? { capacity: o.capacity } : {}),
    ...(o.concurrency ? { concurrency: o.concurrency } : {}),
    ...(o.maxRuns ? { maxRuns: o.maxRuns } : {}),
    ...(o.maxAttempts ? { maxAttempts: o.maxAttempts } : {}),
    ...(o.log ? { log: o.log } : {}),
  });
  return {
    flow,
    outbox,
    handler: flow.handler,
    forgeFor,
    trust,
    async start() {
      await outbox.start();
      await flow.start();
    },
    async stop() {
      await flow.stop();
      await outbox.stop();
    },
  };
}

/**
 * Where repositories are cloned from, given the API root: https://api.github.com clones from
 * https://github.com; an Enterprise Server's https://HOST/api/v3 from https://HOST.
 */
export function cloneBaseFromApi(apiUrl: string): string {
  const u = new URL(apiUrl);
  if (u.hostname === "api.github.com") return "https://github.com";
  return `${u.protocol}//${u.host}`;
}
