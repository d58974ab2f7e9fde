// Assembles the decide → run → report flow over one open database: GitHub App clients per
// installation, the outbox, the PR code mirror and the event handler. `airlock serve` builds one
// of these and hands `handler` to the processing loop.
import { AppAuth } from "../forge/github/app-auth.js";
import { GitHubClient } from "../forge/github/client.js";
import { GitHubHttp } from "../forge/github/http.js";
import { ApprovalStore } from "../store/approvals.js";
import type { OpenedDb } from "../store/db.js";
import { OutboxStore } from "../store/outbox.js";
import { RunRequestStore } from "../store/run-requests.js";
import { RunStore } from "../store/runs.js";
import { Outbox, type OutboxOptions } from "./outbox.js";
import { type FlowLogger, PrFlow, type PrFlowOptions } from "./pr-flow.js";
import { PrSource } from "./pr-source.js";

export interface FlowWiringOptions {
  db: OpenedDb;
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
  runnerFor: PrFlowOptions["runnerFor"];
  concurrency?: number;
  maxRuns?: number;
  /** Attempts of a run interrupted by a restart or failing to execute (default 3). */
  maxAttempts?: number;
  log?: FlowLogger;
  /** Outbox tuning (tests shorten the backoff). */
  outbox?: Partial<Omit<OutboxOptions, "clientFor" | "appId" | "log">>;
}

export interface WiredFlow {
  flow: PrFlow;
  outbox: Outbox;
  handler: PrFlow["handler"];
  /** The API client of one installation (shared with the flow, so its token cache is too). */
  clientFor(installationId: number): GitHubClient;
  /** Starts delivering the outbox and taking up interrupted runs. */
  start(): Promise<void>;
  /** Stops runs (taken up again at the next start) and the outbox. */
  stop(): Promise<void>;
}

export function wireFlow(o: FlowWiringOptions): WiredFlow {
  const http = new GitHubHttp({ baseUrl: o.apiUrl });
  const auth = new AppAuth(http, o.appId, o.privateKey);
  const clients = new Map<number, GitHubClient>();
  const clientFor = (id: number) => {
    let c = clients.get(id);
    if (!c) {
      c = new GitHubClient(http, auth.installation(id));
      clients.set(id, c);
    }
    return c;
  };
  const outbox = new Outbox(new OutboxStore(o.db.sqlite), {
    clientFor,
    appId: o.appId,
    ...(o.log ? { log: o.log } : {}),
    ...o.outbox,
  });
  const source = new PrSource({
    dataDir: o.dataDir,
    cloneBaseUrl: o.cloneBaseUrl,
    token: async (id) => (await auth.installation(id).authorization()).replace(/^token /, ""),
  });
  const flow = new PrFlow({
    dataDir: o.dataDir,
    runs: new RunStore(o.db.db),
    approvals: new ApprovalStore(o.db.sqlite),
    requests: new RunRequestStore(o.db.sqlite),
    outbox,
    source,
    clientFor,
    runnerFor: o.runnerFor,
    ...(o.publicUrl ? { publicUrl: o.publicUrl } : {}),
    ...(o.concurrency ? { concurrency: o.concurrency } : {}),
    ...(o.maxRuns ? { maxRuns: o.maxRuns } : {}),
    ...(o.maxAttempts ? { maxAttempts: o.maxAttempts } : {}),
    ...(o.log ? { log: o.log } : {}),
  });
  return {
    flow,
    outbox,
    handler: flow.handler,
    clientFor,
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
