// A real console on 127.0.0.1: the gateway's HTTP server (webhook route and all) with the sign-in
// and console routes registered beside it, over a fresh data directory whose runs and logs are
// written through the real stores.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { FastifyInstance } from "fastify";
import { Intake } from "../../src/gateway/intake.js";
import {
  type AuditRepo,
  type OpenedStore,
  openStore,
  type RunRepo,
  type SessionRepo,
} from "../../src/store/index.js";
import { LogStore } from "../../src/store/logs.js";
import type { Auth, AuthOptions } from "../../src/web/auth/auth.js";
import { registerAuth } from "../../src/web/auth/routes.js";
import { registerConsole } from "../../src/web/console/routes.js";
import type { ActionResult, ConsoleOptions, RunRef } from "../../src/web/console/types.js";
import { GatewayMetrics } from "../../src/web/metrics.js";
import { createServer } from "../../src/web/server.js";

export interface Env {
  dir: string;
  db: OpenedStore;
  runs: RunRepo;
  logs: LogStore;
  sessions: SessionRepo;
  audit: AuditRepo;
  cleanup(): Promise<void>;
}

export async function makeEnv(): Promise<Env> {
  const dir = mkdtempSync(path.join(tmpdir(), "airlock-web-"));
  const db = await openStore({ dataDir: dir });
  return {
    dir,
    db,
    runs: db.runs,
    logs: new LogStore(dir),
    sessions: db.sessions,
    audit: db.audit,
    async cleanup() {
      await db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface ActionCall {
  action: string;
  run: RunRef;
  sha?: string;
  actor: string;
}

export interface Console {
  app: FastifyInstance;
  url: string;
  auth: Auth;
  calls: ActionCall[];
  /** Every route the server registered (method and URL pattern). */
  routes: { method: string; url: string }[];
  close(): Promise<void>;
}

export async function startConsole(
  env: Env,
  o: {
    trusted?: (login: string) => boolean;
    auth?: Partial<AuthOptions>;
    console?: Partial<ConsoleOptions>;
  } = {},
): Promise<Console> {
  const calls: ActionCall[] = [];
  const ok = (message: string): ActionResult => ({ ok: true, message });
  let auth!: Auth;
  const routes: { method: string; url: string }[] = [];
  const app = await createServer({
    intake: new Intake({
      secrets: ["webhook-secret-for-tests"],
      store: env.db.events,
    }),
    metrics: new GatewayMetrics(),
    extraRoutes: async (a) => {
      a.addHook("onRoute", (r) => {
        for (const m of [r.method].flat()) routes.push({ method: m, url: r.url });
      });
      auth = await registerAuth(a, {
        sessions: env.sessions,
        isTrusted: async (login) => (o.trusted ?? (() => true))(login),
        audit: env.audit,
        ...o.auth,
      });
      await registerConsole(a, {
        auth,
        runs: env.runs,
        logs: env.logs,
        audit: env.audit,
        actions: {
          approve: async (run, sha, actor) => {
            calls.push({ action: "approve", run, sha, actor });
            return ok(`Approved ${sha.slice(0, 12)}: restricted jobs are starting.`);
          },
          approveCommit: async (c, actor) => {
            calls.push({ action: "approve-commit", run: { id: "", ...c }, sha: c.sha, actor });
            return ok(`Approved ${c.sha.slice(0, 12)}.`);
          },
          cancel: async (run, actor) => {
            calls.push({ action: "cancel", run, actor });
            return ok("Cancelled.");
          },
          rerunFailed: async (run, actor) => {
            calls.push({ action: "rerun-failed", run, actor });
            return ok("Re-running failed jobs.");
          },
          runAll: async (run, actor) => {
            calls.push({ action: "run-all", run, actor });
            return ok("Running all tests.");
          },
        },
        pollMs: 100,
        ...o.console,
      });
    },
  });
  const url = await app.listen({ host: "127.0.0.1", port: 0 });
  return { app, url, auth, calls, routes, close: () => app.close() };
}

export const SHA = "3f786850e387550fdab836ed7e6dc881de23001b";

/** A GitHub run with a public job, a finished restricted job and a running restricted job. */
export async function seedRun(env: Env, id = "run-1", repo = "acme/app"): Promise<void> {
  await env.runs.create(
    {
      id,
      source: "github",
      repo,
      ref: "feature/<b>branch</b>",
      sha: SHA,
      pr: 42,
      selection: { labels: ["test-aws-infra"], jobs: [], tags: [["aws", "infra"]] },
      authorizedBy: "alice",
      notes: { suite: "suite-branch main @ 1234567" },
    },
    [
      {
        jobId: "build",
        template: "build",
        needs: [],
        secrets: [],
        state: "passed",
        reason: "public job",
      },
      {
        jobId: "aws-infra",
        template: "functional",
        needs: ["build"],
        secrets: ["functional-tests"],
        state: "failed",
        reason: "selected by label test-aws-infra",
      },
      {
        jobId: "live-job",
        template: "functional",
        needs: ["build"],
        secrets: ["functional-tests"],
        state: "running",
        reason: "selected by label test-aws-infra",
      },
      {
        jobId: "scw-infra",
        template: "functional",
        needs: ["build"],
        secrets: ["functional-tests"],
        state: "skipped",
        reason: "not selected: no label names scaleway",
      },
    ],
  );
  const t0 = Date.now() - 60_000;
  await env.runs.setStatus(id, "running");
  await env.runs.updateJob(id, "build", {
    startedAt: t0,
    finishedAt: t0 + 12_000,
    exitCode: 0,
    tests: [
      { suite: "unit", name: "parses <config>", status: "passed", durationMs: 12 },
      {
        suite: "unit",
        name: "rejects bad input",
        status: "failed",
        durationMs: 4,
        message: "expected 1, got 2",
      },
    ],
  });
  await env.runs.updateJob(id, "aws-infra", {
    startedAt: t0 + 12_000,
    finishedAt: t0 + 40_000,
    exitCode: 1,
    grants: { "functional-tests": { AWS_ACCESS_KEY_ID: 3, AWS_SECRET_ACCESS_KEY: 3 } },
    tests: [
      { suite: "aws", name: "creates a VPC", status: "passed", durationMs: 2000 },
      {
        suite: "aws",
        name: "deletes a VPC",
        status: "failed",
        durationMs: 1500,
        message: "restricted failure detail",
      },
    ],
  });
  await env.runs.updateJob(id, "live-job", { startedAt: t0 + 12_000 });
  await writeLog(env, id, "build", "npm ci\n\x1b[32mok\x1b[0m 12 tests\n");
  await writeLog(
    env,
    id,
    "aws-infra",
    [
      "::group::Terraform init",
      "Initializing provider <aws>",
      "::endgroup::",
      "\x1b[31mError:\x1b[0m VPC limit exceeded",
      "RESTRICTED-LOG-LINE token=[redacted:AWS_SECRET_ACCESS_KEY]",
      "",
    ].join("\n"),
  );
  await writeLog(env, id, "live-job", "starting live job\n");
}

export async function writeLog(env: Env, run: string, job: string, text: string): Promise<void> {
  const w = env.logs.writer(run, job);
  await new Promise<void>((resolve, reject) => {
    w.on("error", reject);
    w.end(text, () => resolve());
  });
}

/** Signs in through a one-time link and answers the session cookie ("name=value"). */
export async function signInByLink(c: Console, env: Env): Promise<string> {
  const { createConsoleLink } = await import("../../src/web/auth/console-link.js");
  const link = await createConsoleLink(env.sessions, c.url);
  const res = await fetch(link, { redirect: "manual" });
  const cookie = res.headers.get("set-cookie") ?? "";
  return cookie.split(";")[0] as string;
}

/** The CSRF token in a page's sign-out form. */
export function csrfOf(html: string): string {
  const m = /name="_csrf" value="([^"]+)"/.exec(html);
  if (!m) throw new Error("no CSRF token on the page");
  return m[1] as string;
}
