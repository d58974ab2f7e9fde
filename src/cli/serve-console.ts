// The console as `airlock serve` wires it: sign-in (one-time links, admin tokens, GitHub OAuth
// checked against the trust rules of the repositories Airlock serves), the private pages over the
// data directory, the secrets inventory of the project's `.airlock.yml`, the public summary as
// each run recorded it, and the run actions.
//
// Actions on pull-request runs enter the gateway as the comment command they stand for
// (`/ok-to-test <sha>`, `/cancel`, `/retest`, `/test all`), stored in the same queue as webhook
// deliveries: they are processed one at a time with those deliveries and decided by exactly the
// same rules (the sender must be trusted on the repository, an approval binds the shown SHA only
// while it is the head).
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import path from "node:path";
import type { FastifyInstance } from "fastify";
import { ArtifactStore } from "../artifacts/store.js";
import { ConfigError, loadConfig, parseConfig } from "../config/loader.js";
import type { Config } from "../config/schema.js";
import { type Forge, repoRef } from "../forge/types.js";
import { CONFIG_FILE } from "../gateway/definitions.js";
import { EmbeddedStore } from "../secrets/embedded.js";
import { SecretsService } from "../secrets/grants.js";
import "../secrets/vault/register.js";
import type { OpenedStore, PrHead, RunRequestRow, RunRow } from "../store/index.js";
import { LogStore } from "../store/logs.js";
import { approveByComment } from "../trust/approvals.js";
import type { TrustRegistry } from "../trust/registry.js";
import { LINK_ACTOR, registerAuth } from "../web/auth/routes.js";
import { secretsInventory } from "../web/console/inventory.js";
import { registerConsole } from "../web/console/routes.js";
import type {
  ActionResult,
  ConsoleActions,
  PublicSummaryPolicy,
  RunRef,
  SecretsInventory,
} from "../web/console/types.js";

export interface ConsoleLogger {
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
}

export interface ServeConsoleOptions {
  db: OpenedStore;
  dataDir: string;
  /** The project whose `.airlock.yml` the secrets inventory describes. */
  projectDir: string;
  /** The gateway's API clients; absent in embedded mode (no GitHub App). */
  github?: { forgeFor(installationId: number): Forge; trust: TrustRegistry };
  oauth?: { clientId: string; clientSecret: string };
  apiUrl: string;
  webUrl: string;
  publicUrl?: string;
  trustProxy: boolean;
  /** Wakes the processing loop after an action was queued. */
  notify(): void;
  log: ConsoleLogger;
  /** How long an action waits for the gateway's answer before saying it is under way. */
  actionWaitMs?: number;
  /** Warnings shown on every signed-in page while an unsafe setting is in force. */
  notices?: readonly string[];
}

const GITHUB_LOGIN = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/;
const short = (sha: string) => sha.slice(0, 12);

type SummarySetting = { enabled?: unknown; failure_messages?: unknown } | undefined;

function policyOf(p: SummarySetting): PublicSummaryPolicy {
  if (p?.enabled !== true) return { enabled: false };
  const fm = p.failure_messages;
  return { enabled: true, failureMessages: fm === "all" || fm === "none" ? fm : "public-jobs" };
}

/**
 * The public-summary setting of a run: as recorded when it started (gateway runs record their
 * base definition's); for a local run that recorded none, the `.airlock.yml` of its commit in
 * the project. Off when neither says.
 */
export function publicSummaryPolicy(
  projectDir: string,
): (run: RunRow) => Promise<PublicSummaryPolicy> {
  const byCommit = new Map<string, Promise<SummarySetting>>();
  return async (run) => {
    let notes: Record<string, unknown>;
    try {
      notes = JSON.parse(run.notes) as Record<string, unknown>;
    } catch {
      return { enabled: false };
    }
    if (notes.public_summary !== undefined) return policyOf(notes.public_summary as SummarySetting);
    if (run.source !== "local" || !/^[0-9a-f]{40}$/.test(run.sha)) return { enabled: false };
    let setting = byCommit.get(run.sha);
    if (!setting) {
      setting = readAtCommit(projectDir, run.sha).then((text) => {
        if (text === undefined) return undefined;
        try {
          return parseConfig(text, CONFIG_FILE).public_summary;
        } catch {
          return undefined;
        }
      });
      byCommit.set(run.sha, setting);
    }
    return policyOf(await setting);
  };
}

/** The project's `.airlock.yml` as committed in `sha`, if the project is a git checkout. */
function readAtCommit(projectDir: string, sha: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    // The SHA was checked to be 40 hex digits; the path is fixed: nothing here is shell text.
    execFile(
      "git",
      ["-C", projectDir, "show", `${sha}:./${CONFIG_FILE}`],
      { maxBuffer: 4 * 1024 * 1024, timeout: 10_000 },
      (err, stdout) => resolve(err ? undefined : stdout),
    );
  });
}

/** The project's `.airlock.yml`, if it has a usable one. */
function projectConfig(projectDir: string, log: ConsoleLogger): Config | undefined {
  const file = path.join(projectDir, CONFIG_FILE);
  if (!existsSync(file)) return undefined;
  try {
    return loadConfig(file);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    log.warn({ file }, "the secrets inventory is empty: the project's .airlock.yml has problems");
    return undefined;
  }
}

/**
 * The sets the project's `.airlock.yml` declares, and every set the embedded store holds (a set
 * stored but not declared is listed too, so the page never says "none" over stored secrets).
 */
function inventoryOf(o: ServeConsoleOptions): SecretsInventory {
  const config = projectConfig(o.projectDir, o.log);
  const declared = config?.secrets ?? {};
  const service = new SecretsService({
    dataDir: o.dataDir,
    store: o.db,
    sets: declared,
    env: process.env,
    actor: "airlock serve",
  });
  const embedded = new EmbeddedStore({ dataDir: o.dataDir, store: o.db, env: process.env });
  const inventory = (stored: string[]) =>
    secretsInventory({
      sets: {
        ...Object.fromEntries(
          stored.map((name) => [name, { backend: "embedded (stored; not in .airlock.yml)" }]),
        ),
        ...Object.fromEntries(
          Object.entries(declared).map(([n, s]) => [n, { backend: s.backend }]),
        ),
      },
      jobs: Object.fromEntries(
        Object.entries(config?.jobs ?? {}).map(([name, j]) => [name, { secrets: j.secrets }]),
      ),
      list: (set) => (set in declared ? service.backendFor(set).list(set) : embedded.list(set)),
    });
  return {
    async listSets() {
      const stored = [...new Set((await embedded.list()).map((k) => k.set))];
      return inventory(stored).listSets();
    },
  };
}

/**
 * Whether a GitHub login is a trusted member: trusted by the trust rules of at least one
 * repository Airlock ran pull requests for, read from the base commit of its newest request.
 */
function memberCheck(o: ServeConsoleOptions): (login: string) => Promise<boolean> {
  const github = o.github;
  if (!github) return async () => false;
  const configs = new Map<string, Config | null>();

  return async (login) => {
    if (!GITHUB_LOGIN.test(login)) return false;
    for (const req of await o.db.requests.newestPerRepo(20)) {
      const r = { repo: req.repo, inst: req.installationId, base: req.baseSha };
      try {
        const client = github.forgeFor(r.inst);
        const key = `${r.repo}@${r.base}`;
        let config = configs.get(key);
        if (config === undefined) {
          const text = await client.fileAt(repoRef(r.repo), CONFIG_FILE, r.base);
          config = text === undefined ? null : parseConfig(text, `${CONFIG_FILE} at ${r.base}`);
          configs.set(key, config);
        }
        if (!config) continue;
        // The gateway's answers: a membership event makes both forget them at once.
        const v = await github.trust
          .of(r.inst)
          .check({ login, type: "User" }, repoRef(r.repo), config.trust);
        if (v.trusted) return true;
      } catch (e) {
        // A lookup that fails grants nothing; the next request asks again.
        o.log.warn({ repo: r.repo, message: String(e) }, "console membership check failed");
      }
    }
    return false;
  };
}

function actionsOf(o: ServeConsoleOptions): ConsoleActions {
  const { events, requests, approvals, waits } = o.db;
  const waitMs = o.actionWaitMs ?? 10_000;
  const refuse = (message: string): ActionResult => ({ ok: false, message });

  /** Why a GitHub action cannot be taken by `actor` here, or undefined. */
  function refusal(actor: string, what: string): ActionResult | undefined {
    if (!o.github) {
      return refuse(
        `No GitHub App is configured on this Airlock, so it cannot act on pull requests: ${what} needs airlock serve with the App's settings.`,
      );
    }
    if (actor === LINK_ACTOR || !GITHUB_LOGIN.test(actor)) {
      return refuse(
        `On a pull request, ${what} is done by a GitHub member, checked against the repository's trust rules: sign in with GitHub (an admin token or a sign-in link is not a GitHub account), or comment on the pull request.`,
      );
    }
    return undefined;
  }

  /** Why this run cannot be acted on, or the request it came from. */
  async function target(run: RunRef, actor: string, what: string) {
    const req = await requests.get(run.id);
    if (run.pr === null || !req) {
      return refuse(
        `This run was made by airlock run on a local checkout, not for a pull request: ${what} applies to pull-request runs only. To run it again, use airlock run where the project is checked out.`,
      );
    }
    return refusal(actor, what) ?? { req, head: await approvals.head(run.repo, run.pr) };
  }

  /** Stores the command as a comment by `actor` and waits (a while) until it was processed. */
  async function send(
    req: Pick<RunRequestRow, "repo" | "pr" | "installationId">,
    actor: string,
    body: string,
  ): Promise<"done" | "failed" | "pending"> {
    const [owner, name] = req.repo.split("/") as [string, string];
    const user = { login: actor, id: 0, type: "User" };
    const deliveryId = `console-${randomUUID()}`;
    const payload = {
      action: "created",
      issue: { number: req.pr, pull_request: {} },
      comment: { id: 0, body, user, created_at: new Date().toISOString() },
      repository: { id: 0, full_name: req.repo, name, owner: { login: owner } },
      sender: user,
      installation: { id: req.installationId },
    };
    await events.insert({
      deliveryId,
      name: "issue_comment",
      action: "created",
      payload: JSON.stringify(payload),
    });
    o.notify();
    const until = Date.now() + waitMs;
    while (Date.now() < until) {
      const ev = await events.get(deliveryId);
      if (ev?.state === "done") return "done";
      if (ev?.state === "failed" || ev?.state === "rejected") return "failed";
      await new Promise((r) => setTimeout(r, 50));
    }
    return "pending";
  }

  const queuedSince = async (repo: string, pr: number, since: number) =>
    (await requests.forPr(repo, pr)).filter((r) => r.createdAt >= since && r.state !== "cancelled");

  /** `/test all` and `/retest`: answered by whether a run was queued. */
  async function runCommand(run: RunRef, actor: string, body: string, what: string) {
    const t = await target(run, actor, what);
    if ("ok" in t) return t;
    if (t.head && t.head.sha !== run.sha) {
      return refuse(
        `The pull request moved on to ${short(t.head.sha)} since this run: open its newest run.`,
      );
    }
    const since = Date.now();
    const state = await send(t.req, actor, body);
    const What = what[0]!.toUpperCase() + what.slice(1);
    if (state === "pending") return { ok: true, message: `${What}: sent to the gateway.` };
    const queued = await queuedSince(run.repo, run.pr!, since);
    if (state === "done" && queued.length > 0) {
      return { ok: true, message: `${What}: run ${queued[0]!.id} is queued.` };
    }
    return refuse(
      `${What}: nothing was started. Airlock answered on the pull request where it could say why (e.g. ${short(run.sha)} is not approved, or no job failed).`,
    );
  }

  /** `/ok-to-test <sha>` by `actor`: approves exactly `sha`, and only while it is the head. */
  async function approveExactly(
    ref: Pick<RunRequestRow, "repo" | "pr" | "installationId">,
    head: PrHead | undefined,
    sha: string,
    actor: string,
  ): Promise<ActionResult> {
    // The rule of `/ok-to-test <sha>`, checked here first to answer plainly; the gateway
    // checks it again, with the sender's trust, when it processes the command.
    const d = approveByComment({
      senderTrusted: true,
      sender: actor,
      requestedSha: sha,
      head,
      commentCreatedAt: Date.now(),
    });
    if (!d.ok) return refuse(`Nothing was approved: ${d.reason}.`);
    const since = Date.now();
    const state = await send(ref, actor, `/ok-to-test ${sha}`);
    const mine = (await approvals.history(ref.repo, ref.pr)).some(
      (a) => a.sha === sha && a.voidedAt === null && a.approvedBy === actor,
    );
    if (mine) {
      const queued = (await queuedSince(ref.repo, ref.pr, since)).some((r) => r.kind !== "public");
      return {
        ok: true,
        message: queued
          ? `Approved ${short(sha)}: its restricted jobs are queued.`
          : `Approved ${short(sha)}. It needs more approvals before its restricted jobs run (trust.rules): the approval check on the pull request says whose.`,
      };
    }
    if (state === "pending") return { ok: true, message: "Approval sent to the gateway." };
    return refuse(
      `Nothing was approved: ${actor} is not trusted on ${ref.repo} by its base definition's trust rules, or the pull request moved on.`,
    );
  }

  return {
    async approve(run, sha, actor) {
      const t = await target(run, actor, "approving");
      if ("ok" in t) return t;
      return approveExactly(t.req, t.head, sha, actor);
    },
    async approveCommit(c, actor) {
      const no = refusal(actor, "approving");
      if (no) return no;
      const wait = await waits.get(c.repo, c.pr, c.sha);
      if (!wait)
        return refuse(
          `Nothing was approved: ${short(c.sha)} of ${c.repo}#${c.pr} is not in the approval inbox.`,
        );
      const ref = { repo: c.repo, pr: c.pr, installationId: wait.installationId };
      return approveExactly(ref, await approvals.head(c.repo, c.pr), c.sha, actor);
    },
    async cancel(run, actor) {
      const t = await target(run, actor, "cancelling");
      if ("ok" in t) return t;
      const state = await send(t.req, actor, "/cancel");
      if (state === "failed") return refuse("The gateway could not process the cancellation.");
      return {
        ok: true,
        message: `Cancelling the runs of ${run.repo}#${run.pr}, as a /cancel comment does.`,
      };
    },
    rerunFailed: (run, actor) => runCommand(run, actor, "/retest", "re-running failed jobs"),
    runAll: (run, actor) => runCommand(run, actor, "/test all", "running all tests"),
  };
}

/** Registers sign-in and the console on the gateway's server. */
export async function registerServeConsole(
  app: FastifyInstance,
  o: ServeConsoleOptions,
): Promise<void> {
  const { sessions, audit } = o.db;
  const origin = {
    ...(o.publicUrl ? { publicUrl: o.publicUrl } : {}),
    trustProxy: o.trustProxy,
  };
  const auth = await registerAuth(app, {
    sessions,
    audit,
    isTrusted: memberCheck(o),
    ...(o.oauth
      ? {
          github: {
            clientId: o.oauth.clientId,
            clientSecret: o.oauth.clientSecret,
            webUrl: o.webUrl,
            apiUrl: o.apiUrl,
          },
        }
      : {}),
    ...origin,
  });
  const secrets = inventoryOf(o);
  await registerConsole(app, {
    auth,
    audit,
    runs: o.db.runs,
    logs: new LogStore(o.dataDir),
    artifacts: new ArtifactStore(path.join(o.dataDir, "artifacts")),
    actions: actionsOf(o),
    waits: o.db.waits,
    ...(secrets ? { secrets } : {}),
    publicSummary: publicSummaryPolicy(o.projectDir),
    githubWebUrl: o.webUrl,
    ...(o.notices ? { notices: o.notices } : {}),
  });
}
