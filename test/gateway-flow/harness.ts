// The decide → run → report flow end to end: the real HTTP server, store, processing loop, outbox,
// git mirror, bubblewrap sandbox and secrets, against the GitHub test double (which checks every
// request against GitHub's REST description) and real git repositories made here.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { isDeepStrictEqual } from "node:util";
import { sign } from "@octokit/webhooks-methods";
import { createRunnerDeps } from "../../src/cli/runner-deps.js";
import { registerServeConsole } from "../../src/cli/serve-console.js";
import { EventLoop } from "../../src/gateway/events.js";
import { Intake } from "../../src/gateway/intake.js";
import type { Capacity } from "../../src/gateway/serve-limits.js";
import { type WiredFlow, wireFlow } from "../../src/gateway/wiring.js";
import { EmbeddedStore } from "../../src/secrets/embedded.js";
import {
  type DatabaseOptions,
  type EventQueue,
  type OpenedStore,
  openStore,
  type Store,
} from "../../src/store/index.js";
import { LogStore } from "../../src/store/logs.js";
import { GatewayMetrics } from "../../src/web/metrics.js";
import { createServer } from "../../src/web/server.js";
import { type GitHubDouble, startGitHubDouble } from "../doubles/github.js";
import type { CheckRun } from "../doubles/github-model.js";
import { example, type Payload } from "../gateway/helpers.js";
import type { TestEngine } from "../support/engines.js";
import { PATIENCE_MS } from "../support/patience.js";

export const WEBHOOK_SECRET = "flow-webhook-secret";
/** The value of the `cloud` secret set's CLOUD_TOKEN: must never reach a log, check or comment. */
export const CLOUD_TOKEN = "cl0ud-t0ken-Zq8v3Xw9Lr2";
export const REPO = "acme/app";
export const INSTALLATION = 77;
export const PUBLIC_URL = "https://airlock.example.test";
/** Where the console links pull requests and commits. */
export const WEB_URL = "https://github.example.test";
export const TRUSTED = "alice";
export const UNTRUSTED = "mallory";

/** The base pipeline: a public job, and a restricted matrix job that needs it. */
export const BASE_PIPELINE = `version: 1
secrets:
  cloud:
    backend: embedded
trust:
  orgs: [acme]
jobs:
  unit:
    run: |
      echo "unit ok"
      echo "CLOUD_TOKEN=\${CLOUD_TOKEN:-unset}"
  functional:
    needs: [unit]
    matrix:
      provider: [aws, scw]
    name: \${provider}
    tags: ["\${provider}"]
    secrets: [cloud]
    reports: [report.xml]
    run: |
      echo "token is $CLOUD_TOKEN"
      printf '<testsuite name="f"><testcase name="ok-%s"/><testcase name="leak"><failure message="saw %s"/></testcase></testsuite>' "$provider" "$CLOUD_TOKEN" > report.xml
`;

function git(cwd: string, ...args: string[]): string {
  return execFileSync("git", ["-C", cwd, ...args], {
    encoding: "utf8",
    env: {
      PATH: process.env.PATH,
      HOME: cwd,
      GIT_CONFIG_NOSYSTEM: "1",
      GIT_CONFIG_GLOBAL: "/dev/null",
      GIT_AUTHOR_NAME: "t",
      GIT_AUTHOR_EMAIL: "t@example.test",
      GIT_COMMITTER_NAME: "t",
      GIT_COMMITTER_EMAIL: "t@example.test",
    },
  }).trim();
}

/** A "GitHub" repository on disk: a bare repo under `<root>/git/acme/app.git` and a work tree. */
export class Repo {
  readonly bare: string;
  readonly work: string;
  constructor(readonly root: string) {
    this.bare = path.join(root, "git", "acme", "app.git");
    this.work = path.join(root, "work");
    mkdirSync(this.bare, { recursive: true });
    git(this.bare, "init", "--bare", "--quiet");
    mkdirSync(this.work);
    git(this.work, "init", "--quiet", "-b", "main");
  }

  get cloneBase(): string {
    return `file://${path.join(this.root, "git")}`;
  }

  /**
   * Commits files (on top of `parent`, or the current HEAD) and returns the SHA. A file given
   * null is removed.
   */
  commit(files: Record<string, string | null>, parent?: string): string {
    if (parent) git(this.work, "checkout", "--quiet", "--detach", parent);
    for (const [f, text] of Object.entries(files)) {
      if (text === null) {
        rmSync(path.join(this.work, f));
        continue;
      }
      mkdirSync(path.dirname(path.join(this.work, f)), { recursive: true });
      writeFileSync(path.join(this.work, f), text);
    }
    git(this.work, "add", "-A");
    git(this.work, "commit", "--quiet", "--allow-empty", "-m", `c${randomUUID().slice(0, 6)}`);
    return git(this.work, "rev-parse", "HEAD");
  }

  /** What GitHub does on a push to a PR: refs/pull/N/head moves. */
  setPullHead(n: number, sha: string): void {
    git(this.work, "push", "--quiet", "--force", this.bare, `${sha}:refs/pull/${n}/head`);
  }
}

export interface FlowServer {
  url: string;
  db: OpenedStore;
  events: EventQueue;
  wired: WiredFlow;
  loop: EventLoop;
  close(): Promise<void>;
}

/** The gateway as `airlock serve` assembles it, on a random loopback port. */
export async function startFlowServer(o: {
  dataDir: string;
  gh: Pick<GitHubDouble, "appId" | "privateKey" | "url">;
  cloneBase: string;
  /** As the serve config sets it; without it, 2 runs of 2 jobs at once. */
  capacity?: Capacity;
  /** The database; none: the data directory's SQLite file. */
  database?: DatabaseOptions | undefined;
  /** Free space kept on the data directory's disk (default: none). */
  diskReserveBytes?: number;
  /** Serve the console beside the webhook, as `airlock serve` does. */
  console?: boolean;
  /** Attempts of a run whose execution fails (default 6). */
  maxAttempts?: number;
}): Promise<FlowServer> {
  const db = await openStore({ dataDir: o.dataDir, database: o.database });
  const events = db.events;
  const logs = new LogStore(o.dataDir);
  const wired = wireFlow({
    db,
    dataDir: o.dataDir,
    appId: o.gh.appId,
    privateKey: o.gh.privateKey!,
    apiUrl: o.gh.url,
    cloneBaseUrl: o.cloneBase,
    publicUrl: PUBLIC_URL,
    ...(o.capacity ? { capacity: o.capacity } : { concurrency: 2, maxRuns: 2 }),
    maxAttempts: o.maxAttempts ?? 6,
    outbox: { baseDelayMs: 20, maxDelayMs: 200 },
    runnerFor: async (config, jobs) => {
      const built = await createRunnerDeps({
        store: db,
        dataDir: o.dataDir,
        config,
        sandbox: true,
        logs,
        jobs,
        issuer: PUBLIC_URL,
        ...(o.diskReserveBytes ? { diskReserveBytes: o.diskReserveBytes } : {}),
      });
      return { runner: built.runner, close: built.close, sweepers: built.sweepers };
    },
  });
  const loop = new EventLoop({ store: events, handler: wired.handler, backoffMs: () => 20 });
  const intake = new Intake({
    secrets: [WEBHOOK_SECRET],
    store: events,
    onStored: (stored) => loop.notify(stored),
  });
  const quiet = { info() {}, warn() {} };
  const app = await createServer({
    intake,
    metrics: new GatewayMetrics({ queueDepth: () => events.depth() }),
    ...(o.console
      ? {
          extraRoutes: (a) =>
            registerServeConsole(a, {
              db,
              dataDir: o.dataDir,
              projectDir: o.dataDir,
              github: wired,
              apiUrl: o.gh.url,
              webUrl: WEB_URL,
              // No public URL: the browser reaches the console at the loopback address.
              trustProxy: false,
              notify: () => loop.notify(),
              log: quiet,
            }),
        }
      : {}),
  });
  await wired.start();
  await loop.start();
  const url = await app.listen({ host: "127.0.0.1", port: 0 });
  return {
    url,
    db,
    events,
    wired,
    loop,
    async close() {
      await app.close();
      await loop.stop();
      await wired.stop();
      await db.close();
    },
  };
}

/** A whole scenario's world: temp dirs, the double, a repo with a base commit, the server. */
export class World {
  readonly root = mkdtempSync(path.join(os.tmpdir(), "airlock-flow-"));
  readonly dataDir = path.join(this.root, "data");
  readonly repo = new Repo(this.root);
  gh!: GitHubDouble;
  server!: FlowServer;
  baseSha = "";
  private nextPr = 1;

  /** The database the gateway keeps its state in; none: the data directory's SQLite file. */
  database: DatabaseOptions | undefined;

  /** A world whose gateway keeps its state on `engine` (a fresh database of its own). */
  static async on(
    engine: TestEngine,
    basePipeline = BASE_PIPELINE,
    opts: { server?: boolean } = {},
  ): Promise<World> {
    const fresh = await engine.fresh();
    // Only the database is used: the world has a data directory of its own.
    fresh.cleanup();
    return World.create(basePipeline, { ...opts, database: fresh.database });
  }

  static async create(
    basePipeline = BASE_PIPELINE,
    opts: {
      server?: boolean;
      /** As the serve config sets it; without it, 2 runs of 2 jobs at once. */
      capacity?: Capacity;
      database?: DatabaseOptions | undefined;
      /** Secret values beyond the `cloud` set's CLOUD_TOKEN: set -> key -> value. */
      secrets?: Record<string, Record<string, string>>;
      /** Serve the console beside the webhook. */
      console?: boolean;
    } = {},
  ): Promise<World> {
    const w = new World();
    w.database = opts.database;
    w.gh = await startGitHubDouble();
    w.gh.addInstallation({ id: INSTALLATION, account: "acme", repos: [REPO] });
    w.gh.setGitDir(REPO, w.repo.bare);
    w.gh.addOrgMember("acme", TRUSTED);
    w.gh.addOrgMember("acme", "bob");
    w.baseSha = w.repo.commit({ ".airlock.yml": basePipeline, README: "app\n" });
    w.gh.setFile(REPO, w.baseSha, ".airlock.yml", basePipeline);
    mkdirSync(w.dataDir, { recursive: true });
    const db = await openStore({ dataDir: w.dataDir, database: w.database });
    const store = new EmbeddedStore({ dataDir: w.dataDir, store: db });
    await store.set("cloud", "CLOUD_TOKEN", CLOUD_TOKEN, { actor: "test" });
    for (const [set, values] of Object.entries(opts.secrets ?? {})) {
      for (const [key, value] of Object.entries(values)) {
        await store.set(set, key, value, { actor: "test" });
      }
    }
    await db.close();
    if (opts.server !== false) {
      w.server = await startFlowServer({
        dataDir: w.dataDir,
        gh: w.gh,
        cloneBase: w.repo.cloneBase,
        ...(opts.capacity ? { capacity: opts.capacity } : {}),
        database: w.database,
        ...(opts.console ? { console: true } : {}),
      });
    }
    return w;
  }

  /** A new PR whose head commit has `files` on top of the base. */
  openPr(o: {
    author: string;
    files?: Record<string, string | null>;
    headRef?: string;
    /** "owner/app": the head branch lives in that fork (default: the base repository). */
    headRepo?: string;
    headOwnerType?: "User" | "Organization";
    maintainerCanModify?: boolean;
    draft?: boolean;
    labels?: string[];
    title?: string;
    body?: string;
  }) {
    const number = this.nextPr++;
    const headSha = this.repo.commit(o.files ?? { [`f${number}.txt`]: "x\n" }, this.baseSha);
    this.repo.setPullHead(number, headSha);
    this.gh.addPull(REPO, {
      number,
      headSha,
      baseSha: this.baseSha,
      author: o.author,
      ...(o.headRef ? { headRef: o.headRef } : {}),
      ...(o.headRepo ? { headRepo: o.headRepo } : {}),
      ...(o.headOwnerType ? { headOwnerType: o.headOwnerType } : {}),
      ...(o.maintainerCanModify ? { maintainerCanModify: true } : {}),
      ...(o.draft ? { draft: true } : {}),
      ...(o.labels ? { labels: o.labels } : {}),
      ...(o.title !== undefined ? { title: o.title } : {}),
      ...(o.body !== undefined ? { body: o.body } : {}),
    });
    return { number, headSha, ...o };
  }

  /** A push to the PR: a new head commit (of `files`, or a new file) on top of the old one. */
  push(pr: { number: number; headSha: string }, files?: Record<string, string | null>): string {
    const sha = this.repo.commit(
      files ?? { [`p${randomUUID().slice(0, 6)}.txt`]: "y\n" },
      pr.headSha,
    );
    this.repo.setPullHead(pr.number, sha);
    this.gh.pushPull(REPO, pr.number, sha);
    pr.headSha = sha;
    return sha;
  }

  /** `sender` adds `label` to the PR: the double shows it, and the labeled event is delivered. */
  async addLabel(
    pr: { number: number; headSha: string; author: string; labels?: string[] },
    label: string,
    sender: string,
  ) {
    pr.labels = [...(pr.labels ?? []), label];
    this.gh.addPull(REPO, {
      number: pr.number,
      headSha: pr.headSha,
      baseSha: this.baseSha,
      author: pr.author,
      labels: pr.labels,
    });
    return this.send(
      "pull_request",
      prPayload("labeled", pr, { baseSha: this.baseSha, sender, label }),
    );
  }

  async send(event: string, payload: unknown, opts: { id?: string; secret?: string | null } = {}) {
    const id = opts.id ?? randomUUID();
    const body = JSON.stringify(payload);
    const headers: Record<string, string> = {
      "content-type": "application/json",
      "x-github-event": event,
      "x-github-delivery": id,
    };
    const secret = opts.secret === undefined ? WEBHOOK_SECRET : opts.secret;
    if (secret !== null) headers["x-hub-signature-256"] = await sign(secret, body);
    const res = await fetch(`${this.server.url}/webhooks/github`, {
      method: "POST",
      headers,
      body,
    });
    return { status: res.status, id };
  }

  /** Waits until every event, run and outbox item is settled. */
  async settle(timeoutMs = PATIENCE_MS): Promise<void> {
    const { requests } = this.server.db;
    const until = Date.now() + timeoutMs;
    let quiet = 0;
    while (Date.now() < until) {
      await this.server.loop.idle();
      const busy =
        (await this.server.events.depth()) > 0 ||
        (await requests.inState("queued")).length > 0 ||
        (await requests.inState("running")).length > 0 ||
        (await this.server.db.outbox.depth()) > 0;
      quiet = busy ? 0 : quiet + 1;
      if (quiet >= 3) return;
      await new Promise((r) => setTimeout(r, 30));
    }
    throw new Error("the gateway did not settle in time");
  }

  checks(sha: string) {
    return this.gh.checkRunConclusions(REPO, sha);
  }

  check(sha: string, name: string) {
    return this.gh.checkRuns(REPO, sha).find((c) => c.name === name);
  }

  /** Secret releases recorded in the audit log. */
  releases() {
    return this.server.db.audit.list({ action: "release" });
  }

  logs(runId: string, jobId: string): Promise<string> {
    return new LogStore(this.dataDir).read(runId, jobId);
  }

  jobsOf(sha: string) {
    return this.server.db.db
      .selectFrom("jobs as j")
      .innerJoin("runs as r", "r.id", "j.run_id")
      .selectAll("j")
      .where("r.sha", "=", sha)
      .orderBy("j.seq")
      .execute();
  }

  async close(): Promise<void> {
    await this.server?.close();
    await this.gh.close();
    rmSync(this.root, { recursive: true, force: true });
  }
}

/**
 * What happened on a PR's commits (or one of them), for a failure message: each request in
 * order with its attempt, state, note and run's job states (and a job's error), then each check's
 * history on GitHub's side (which run wrote which state, in order).
 */
export async function historyOf(
  db: Store,
  gh: GitHubDouble,
  pr: number,
  sha?: string,
): Promise<string> {
  const lines: string[] = [];
  const shas = new Set<string>(sha ? [sha] : []);
  const reqs = await db.requests.forPr(REPO, pr, sha);
  for (const r of reqs) {
    shas.add(r.headSha);
    const run = await db.runs.get(r.id);
    const jobs = (await db.runs.jobs(r.id)).map(
      (j) => `${j.job_id}=${j.state}${j.error ? ` (${j.error})` : ""}`,
    );
    lines.push(
      `request ${r.id} PR ${r.pr} ${r.headSha.slice(0, 7)} ${r.kind} attempt ${r.attempt} ${r.state} (${r.note ?? ""}); run ${run?.status ?? "none"} [${jobs.join(" ")}]`,
    );
  }
  for (const ch of gh.checkRuns(REPO).filter((c) => shas.has(c.head_sha))) {
    lines.push(`check ${ch.name} on ${ch.head_sha.slice(0, 7)}: ${stepsOf(ch)}`);
  }
  return lines.join("\n");
}

/** A check run's states in the order GitHub got them, each with the run that wrote it. */
function stepsOf(ch: CheckRun): string {
  return ch.history
    .map((h) => {
      const ext = typeof h.external_id === "string" ? h.external_id.split("/")[0] : "-";
      return `${String(h.conclusion ?? h.status ?? "?")}@${ext}`;
    })
    .join(" → ");
}

/**
 * No check run was created twice: a check run is updated in place, so another one of the same
 * commit and name is a job run again. A run again starts after the earlier check completed (a
 * re-run, the next attempt after its gateway died), or with a state none of the earlier ones was
 * sent; a create sent twice leaves the first one open, or repeats its first state.
 */
export function assertNoCheckRunCreatedTwice(gh: GitHubDouble, repo: string): void {
  const all = gh.checkRuns(repo);
  for (const [i, ch] of all.entries()) {
    const opensAgain = ch.history[0]?.conclusion === undefined;
    for (const e of all
      .slice(0, i)
      .filter((c) => c.head_sha === ch.head_sha && c.name === ch.name)) {
      const endedBefore = e.seen.completed !== null && e.seen.completed < ch.seen.created;
      if (opensAgain && endedBefore) continue;
      assert.ok(
        e.history.every((h) => !isDeepStrictEqual(h, ch.history[0])),
        `${ch.name} on ${ch.head_sha.slice(0, 7)} was created twice:\n` +
          `  check run ${e.id} (created #${e.seen.created}, completed #${e.seen.completed ?? "-"}): ${stepsOf(e)}\n` +
          `  check run ${ch.id} (created #${ch.seen.created}, completed #${ch.seen.completed ?? "-"}): ${stepsOf(ch)}`,
      );
    }
  }
}

// ---- payloads: real examples, edited ----------------------------------------------------------

const user = (login: string, id = 1000 + login.length) => ({
  ...example("pull_request", "opened").sender,
  login,
  id,
  type: login.endsWith("[bot]") ? "Bot" : "User",
});

/** The base repository, or (given "owner/app") a fork of it. */
function repository(fullName = REPO, ownerType?: string): Payload {
  const r = structuredClone(example("pull_request", "opened").repository) as Payload;
  const owner = fullName.split("/")[0]!;
  r.id = fullName === REPO ? 4242 : 5000 + owner.length;
  r.name = "app";
  r.full_name = fullName;
  r.fork = fullName !== REPO;
  r.owner = { ...r.owner, login: owner, ...(ownerType ? { type: ownerType } : {}) };
  return r;
}

export function prPayload(
  action: string,
  pr: {
    number: number;
    headSha: string;
    author: string;
    headRef?: string;
    headRepo?: string;
    headOwnerType?: string;
    maintainerCanModify?: boolean;
    draft?: boolean;
    labels?: string[];
    title?: string;
    body?: string;
  },
  o: { sender?: string; label?: string; baseSha: string; state?: "open" | "closed" },
): Payload {
  const p = example("pull_request", "opened");
  p.action = action;
  p.installation = { id: INSTALLATION, node_id: "I" };
  p.repository = repository();
  p.sender = user(o.sender ?? pr.author);
  const q = p.pull_request;
  q.number = pr.number;
  q.state = o.state ?? "open";
  q.draft = pr.draft ?? false;
  q.user = user(pr.author);
  q.labels = (pr.labels ?? []).map((name, i) => ({ id: i + 1, name, color: "ffffff" }));
  if (pr.title !== undefined) q.title = pr.title;
  if (pr.body !== undefined) q.body = pr.body;
  q.head = {
    ...q.head,
    sha: pr.headSha,
    ref: pr.headRef ?? `feature-${pr.number}`,
    repo: repository(pr.headRepo, pr.headOwnerType),
  };
  q.maintainer_can_modify = pr.maintainerCanModify ?? false;
  q.base = { ...q.base, sha: o.baseSha, ref: "main", repo: repository() };
  if (o.label) p.label = { id: 1, name: o.label, color: "ffffff" };
  return p;
}

export function commentPayload(n: number, body: string, sender: string): Payload {
  const p = example("issue_comment", "created");
  p.installation = { id: INSTALLATION, node_id: "I" };
  p.repository = repository();
  p.sender = user(sender);
  p.issue = { ...p.issue, number: n, pull_request: { url: "https://api.github.com/x" } };
  p.comment = {
    ...p.comment,
    id: Math.floor(Math.random() * 1e9),
    body,
    user: user(sender),
    created_at: new Date().toISOString(),
  };
  return p;
}
