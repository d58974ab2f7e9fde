// What every console route module shares: the checks on ids taken from the path, the loaders of
// runs and jobs, the guards and the signed-in viewer. routes.ts builds one RouteContext and hands
// it to each page's routes.
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { JobRow, RunRow } from "../../store/index.js";
import { Auth, type Principal } from "../auth/auth.js";
import { FINAL_JOB_STATES } from "./model.js";
import type { ConsoleOptions, RunRef } from "./types.js";

export type RunParams = { Params: { run: string } };
export type JobParams = { Params: { run: string; job: string } };

export const ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$/;
export const REPO = /^[A-Za-z0-9_.-]{1,100}\/[A-Za-z0-9_.-]{1,100}$/;
export const SHA = /^[0-9a-f]{40}$/;

export function int(v: unknown, min: number, max: number): number | undefined {
  if (typeof v !== "string" || !/^\d{1,15}$/.test(v)) return undefined;
  const n = Number(v);
  return Math.max(min, Math.min(n, max));
}

/** A Content-Disposition that no file name can break out of (quotes, line breaks, non-ASCII). */
export function attachment(name: string): string {
  const plain = name.replace(/[^A-Za-z0-9._-]/g, "_");
  return `attachment; filename="${plain}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}

export function sendHtml(reply: FastifyReply, code: number, body: string) {
  return reply.code(code).type("text/html; charset=utf-8").send(body);
}

export const runRef = (r: RunRow): RunRef => ({ id: r.id, repo: r.repo, pr: r.pr, sha: r.sha });

type Guard = { preHandler: ReturnType<Auth["guard"]> };

/** What each page's routes use. */
export interface RouteContext {
  scope: FastifyInstance;
  opts: ConsoleOptions;
  /** Guards: a page sends a signed-out reader to sign in, an API answers 401. */
  page: Guard;
  api: Guard;
  /** The signed-in principal, with the server's warnings every page shows. */
  viewer(req: FastifyRequest): Principal;
  loadRun(id: string): Promise<RunRow | undefined>;
  loadJob(runId: string, jobId: string): Promise<{ run: RunRow; job: JobRow } | undefined>;
  jobFinal(runId: string, jobId: string): Promise<boolean>;
}

export function routeContext(scope: FastifyInstance, opts: ConsoleOptions): RouteContext {
  const { auth, runs } = opts;
  const loadRun = async (id: string) => (ID.test(id) ? runs.get(id) : undefined);
  return {
    scope,
    opts,
    page: { preHandler: auth.guard("page") },
    api: { preHandler: auth.guard("api") },
    viewer: (req) =>
      opts.notices?.length ? { ...Auth.of(req), notices: opts.notices } : Auth.of(req),
    loadRun,
    async loadJob(runId, jobId) {
      if (!ID.test(jobId)) return undefined;
      const run = await loadRun(runId);
      if (!run) return undefined;
      const job = (await runs.jobs(run.id)).find((j) => j.job_id === jobId);
      return job ? { run, job } : undefined;
    },
    async jobFinal(runId, jobId) {
      const job = (await runs.jobs(runId)).find((j) => j.job_id === jobId);
      return !job || FINAL_JOB_STATES.has(job.state);
    },
  };
}
