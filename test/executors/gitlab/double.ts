// A GitLab test double: a real HTTP server on loopback implementing exactly the documented
// endpoints the executor uses, as GitLab's REST API v4 describes them:
//   POST /api/v4/projects/:id/trigger/pipeline         (token, ref, variables, inputs) → 201 pipeline
//   GET  /api/v4/projects/:id/pipelines                 (the list filters below) → 200 pipelines
//   GET  /api/v4/projects/:id/pipelines/:pipeline_id    → 200 pipeline
//   GET  /api/v4/projects/:id/pipelines/:pipeline_id/jobs (scope, include_retried, page, per_page)
//   GET  /api/v4/projects/:id/pipelines/:pipeline_id/variables → 200 [{ key, value, variable_type }]
//   POST /api/v4/projects/:id/pipelines/:pipeline_id/cancel → 200 pipeline
//   GET  /api/v4/job (JOB-TOKEN header)                  → 200 the job the CI job token belongs to
// `:id` is a numeric id or a URL-encoded path, always one path segment. Anything else is
// answered 404 and recorded as a violation; so is a request that breaks the documented shape.
import { randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { GITLAB_STATUSES } from "../../../src/executors/gitlab/status.js";

export interface ScriptedJob {
  name: string;
  stage?: string;
  status: string;
  allow_failure?: boolean;
  failure_reason?: string;
  duration?: number;
}

export interface ScriptStep {
  status: string;
  jobs?: ScriptedJob[];
}

export type Route = "trigger" | "list" | "pipeline" | "jobs" | "variables" | "cancel" | "job";
/** "lost": the request is carried out, then the connection is reset before the answer. */
export type FaultKind = "reset" | "lost" | 400 | 500 | 502 | 503 | 429;

export interface Trigger {
  project: string;
  token: string;
  ref: string;
  variables: Record<string, string>;
  contentType: string;
  pipelineId: number;
}

interface PipelineState {
  id: number;
  ref: string;
  variables: Record<string, string>;
  createdAt: number;
  updatedAt: number;
  steps: ScriptStep[];
  index: number;
  cancelled: boolean;
  /** Pipeline GETs served when the cancel arrived. */
  cancelledAt: number;
  jobs: ScriptedJob[];
  gets: number;
}

const PROJECT_ID = 4242;
/** The private project's commit every pipeline runs on (not the commit Airlock tests). */
const PIPELINE_SHA = "9d2a6f4e4a7d1b4f3c9b6e5f0a1b2c3d4e5f6a7b";
const PIPELINE_QUERY_KEYS = new Set<string>();
const JOBS_QUERY_KEYS = new Set(["scope", "scope[]", "include_retried", "page", "per_page"]);
/** GET /projects/:id/pipelines: each documented filter, and what its value must look like. */
const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const LIST_QUERY: Record<string, (v: string) => boolean> = {
  scope: (v) => ["running", "pending", "finished", "branches", "tags"].includes(v),
  status: (v) => (GITLAB_STATUSES as readonly string[]).includes(v),
  source: (v) => /^[a-z_]+$/.test(v),
  ref: (v) => v !== "",
  sha: (v) => /^[0-9a-f]{7,64}$/.test(v),
  yaml_errors: (v) => v === "true" || v === "false",
  username: (v) => v !== "",
  name: (v) => v !== "",
  updated_after: (v) => ISO_8601.test(v),
  updated_before: (v) => ISO_8601.test(v),
  created_after: (v) => ISO_8601.test(v),
  created_before: (v) => ISO_8601.test(v),
  order_by: (v) => ["id", "status", "ref", "updated_at", "user_id"].includes(v),
  sort: (v) => v === "asc" || v === "desc",
  page: (v) => /^[1-9]\d*$/.test(v),
  per_page: (v) => /^[1-9]\d*$/.test(v) && Number(v) <= 100,
};
const TRIGGER_FIELDS = new Set(["token", "ref", "variables", "inputs"]);

export class GitLabDouble {
  url = "";
  readonly violations: string[] = [];
  readonly requests: {
    method: string;
    path: string;
    headers: http.IncomingHttpHeaders;
    /** When the request arrived (ms since the epoch). */
    at: number;
  }[] = [];
  readonly triggers: Trigger[] = [];
  readonly cancels: number[] = [];
  /** Status sequence for the next triggered pipeline; each GET moves one step, the last repeats. */
  script: ScriptStep[] = [{ status: "success", jobs: [] }];
  /** How many jobs one page holds when the client does not ask (GitLab's default is 20). */
  defaultPerPage = 20;
  /** Answer 403 to pipeline variables, as GitLab does for a token that may not read them. */
  variablesForbidden = false;
  /**
   * Cancels are received but neither carried out nor answered until `releaseCancels`, so that a
   * test can stop Airlock while one is in flight. Held cancels are recorded here.
   */
  holdCancels = false;
  readonly heldCancels: number[] = [];
  readonly #held: http.IncomingMessage[] = [];
  readonly #faults: { route: Route; kind: FaultKind; times: number }[] = [];
  readonly #pipelines = new Map<number, PipelineState>();
  readonly #jobTokens = new Map<string, { pipelineId: number; name: string }>();
  #nextPipeline = 1000;
  #server: http.Server;

  constructor(
    readonly triggerToken: string,
    readonly apiToken: string,
    readonly projectPath = "team/functional-tests",
  ) {
    this.#server = http.createServer((req, res) => {
      let body = "";
      req.setEncoding("utf8");
      req.on("data", (c: string) => {
        body += c;
      });
      req.on("end", () => this.#handle(req, res, body));
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((r) => this.#server.listen(0, "127.0.0.1", r));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  close(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((r) => this.#server.close(() => r()));
  }

  /** Forgets what was recorded and any fault or refusal still pending. */
  reset(): void {
    for (const list of [this.violations, this.requests, this.triggers, this.cancels]) {
      list.length = 0;
    }
    this.#faults.length = 0;
    this.variablesForbidden = false;
    this.releaseCancels();
    this.heldCancels.length = 0;
  }

  /** Stops holding cancels; those held are dropped unanswered (their connection is reset). */
  releaseCancels(): void {
    this.holdCancels = false;
    for (const req of this.#held.splice(0)) req.socket.destroy();
  }

  /** The next `times` requests to `route` fail with `kind`. */
  fail(route: Route, kind: FaultKind, times = 1): void {
    this.#faults.push({ route, kind, times });
  }

  pipeline(id: number): PipelineState | undefined {
    return this.#pipelines.get(id);
  }

  /** The CI_JOB_TOKEN GitLab gives the job `name` of pipeline `pipelineId` (valid while it runs). */
  jobToken(pipelineId: number, name: string): string {
    const token = `glcbt-${randomBytes(20).toString("hex")}`;
    this.#jobTokens.set(token, { pipelineId, name });
    return token;
  }

  /** From now on pipeline `id` answers `step`, as a pipeline whose jobs ended does. */
  finish(id: number, step: ScriptStep): void {
    const p = this.#pipelines.get(id);
    if (!p) throw new Error(`the double has no pipeline ${id}`);
    p.steps = [{ ...step }];
    p.index = 0;
    p.jobs = step.jobs ?? p.jobs;
    p.updatedAt = Date.now();
  }

  #violation(res: http.ServerResponse, why: string, status = 404): Sent {
    this.violations.push(why);
    return json(res, status, status === 404 ? { message: "404 Not Found" } : { error: why });
  }

  #handle(req: http.IncomingMessage, res: http.ServerResponse, body: string): Sent {
    const raw = req.url ?? "/";
    const q = raw.indexOf("?");
    const path = q < 0 ? raw : raw.slice(0, q);
    const query = new URLSearchParams(q < 0 ? "" : raw.slice(q + 1));
    const method = req.method ?? "GET";
    this.requests.push({ method, path, headers: req.headers, at: Date.now() });

    if (path === "/api/v4/job") return this.#tokenJob(req, res, method, query);
    // Raw path segments: an unencoded "/" in a project path would add segments.
    const m =
      /^\/api\/v4\/projects\/([^/]+)\/(trigger\/pipeline|pipelines(?:\/([^/]+)(\/jobs|\/cancel|\/variables)?)?)$/.exec(
        path,
      );
    if (!m) return this.#violation(res, `undocumented endpoint ${method} ${path}`);
    const [, projectSeg = "", what, pidText, tail] = m;
    const route: Route =
      what === "trigger/pipeline"
        ? "trigger"
        : pidText === undefined
          ? "list"
          : tail === "/jobs"
            ? "jobs"
            : tail === "/cancel"
              ? "cancel"
              : tail === "/variables"
                ? "variables"
                : "pipeline";
    const expectMethod = route === "trigger" || route === "cancel" ? "POST" : "GET";
    if (method !== expectMethod)
      return this.#violation(res, `undocumented endpoint ${method} ${path}`);

    const fault = this.#faults.find((f) => f.route === route && f.times > 0);
    if (fault?.kind === "lost") {
      fault.times--;
      // Carried out in full; only the answer never arrives.
      res.end = (() => {
        req.socket.destroy();
        return res;
      }) as typeof res.end;
    } else if (fault) {
      fault.times--;
      if (fault.kind === "reset") {
        req.socket.destroy();
        return;
      }
      res.writeHead(fault.kind, {
        "content-type": "text/html",
        ...(fault.kind === 429 ? { "retry-after": "0" } : {}),
      });
      res.end(`<html><body>${fault.kind}</body></html>`);
      return;
    }

    let project: string;
    try {
      project = decodeURIComponent(projectSeg);
    } catch {
      return this.#violation(res, `bad project segment ${projectSeg}`);
    }
    if (project !== String(PROJECT_ID) && project !== this.projectPath) {
      return json(res, 404, { message: "404 Project Not Found" });
    }

    if (route === "trigger") return this.#trigger(req, res, body, query, project);

    // Every other endpoint needs an API token; the trigger token is not one.
    if (req.headers["private-token"] !== this.apiToken) {
      return json(res, 401, { message: "401 Unauthorized" });
    }
    if (route === "list") return this.#list(res, query);
    if (!/^\d+$/.test(pidText ?? ""))
      return this.#violation(res, `pipeline id ${pidText} is not an integer`);
    const p = this.#pipelines.get(Number(pidText));
    if (!p) return json(res, 404, { message: "404 Not found" });
    if (route === "variables") {
      if (this.variablesForbidden) return json(res, 403, { message: "403 Forbidden" });
      if (query.size > 0) this.violations.push("undocumented query parameters on variables");
      return json(
        res,
        200,
        Object.entries(p.variables).map(([key, value]) => ({
          variable_type: "env_var",
          key,
          value,
          raw: false,
        })),
      );
    }
    const allowed = route === "jobs" ? JOBS_QUERY_KEYS : PIPELINE_QUERY_KEYS;
    for (const k of query.keys()) {
      if (!allowed.has(k)) this.violations.push(`undocumented query parameter ${k} on ${route}`);
    }

    if (route === "pipeline") {
      p.gets++;
      const step = this.#current(p);
      if (!p.cancelled && p.index < p.steps.length - 1) {
        p.index++;
        p.updatedAt = Date.now();
      }
      return json(res, 200, this.#pipelineJson(p, step.status));
    }
    if (route === "cancel" && this.holdCancels) {
      this.heldCancels.push(p.id);
      this.#held.push(req);
      return undefined;
    }
    if (route === "cancel") {
      this.cancels.push(p.id);
      const status = this.#current(p).status;
      if (!p.cancelled && !["success", "failed", "canceled", "skipped"].includes(status)) {
        p.cancelled = true;
        p.cancelledAt = p.gets;
        p.updatedAt = Date.now();
      }
      return json(res, 200, this.#pipelineJson(p, this.#current(p).status));
    }
    // jobs
    const perPage = Math.min(
      100,
      Math.max(1, Number(query.get("per_page") ?? this.defaultPerPage) || 20),
    );
    const page = Math.max(1, Number(query.get("page") ?? 1) || 1);
    const all = this.#current(p).jobs ?? p.jobs;
    const slice = all.slice((page - 1) * perPage, page * perPage);
    const totalPages = Math.max(1, Math.ceil(all.length / perPage));
    res.setHeader("x-page", String(page));
    res.setHeader("x-per-page", String(perPage));
    res.setHeader("x-total", String(all.length));
    res.setHeader("x-total-pages", String(totalPages));
    res.setHeader("x-next-page", page < totalPages ? String(page + 1) : "");
    res.setHeader("x-prev-page", page > 1 ? String(page - 1) : "");
    return json(
      res,
      200,
      slice.map((j, i) => this.#jobJson(p, j, (page - 1) * perPage + i)),
    );
  }

  /** GET /job: the job a CI job token belongs to; GitLab refuses the token once the job ended. */
  #tokenJob(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    method: string,
    query: URLSearchParams,
  ): Sent {
    if (method !== "GET")
      return this.#violation(res, `undocumented endpoint ${method} /api/v4/job`);
    if (query.size > 0) this.violations.push("undocumented query parameters on GET /job");
    if (req.headers["private-token"] !== undefined) {
      this.violations.push("GET /job sent with an API token besides the job token");
    }
    const fault = this.#faults.find((f) => f.route === "job" && f.times > 0);
    if (fault) {
      fault.times--;
      res.writeHead(Number(fault.kind) || 502, { "content-type": "text/html" });
      res.end("<html><body>error</body></html>");
      return true;
    }
    const raw = req.headers["job-token"];
    const owner = typeof raw === "string" ? this.#jobTokens.get(raw) : undefined;
    const p = owner && this.#pipelines.get(owner.pipelineId);
    const jobs = p ? (this.#current(p).jobs ?? p.jobs) : [];
    const i = jobs.findIndex((j) => j.name === owner?.name);
    if (!p || i < 0 || jobs[i]!.status !== "running") {
      return json(res, 401, { message: "401 Unauthorized" });
    }
    return json(res, 200, this.#jobJson(p, jobs[i]!, i));
  }

  /** GET /projects/:id/pipelines: every documented filter the double's pipelines can answer. */
  #list(res: http.ServerResponse, query: URLSearchParams): Sent {
    for (const [k, v] of query) {
      const valid = LIST_QUERY[k];
      if (!valid) return this.#violation(res, `undocumented query parameter ${k} on list`, 400);
      if (!valid(v)) return this.#violation(res, `${k} is invalid`, 400);
    }
    const at = (k: string) => (query.has(k) ? Date.parse(query.get(k)!) : null);
    const [updatedAfter, updatedBefore, createdAfter, createdBefore] = [
      at("updated_after"),
      at("updated_before"),
      at("created_after"),
      at("created_before"),
    ];
    let all = [...this.#pipelines.values()].filter(
      (p) =>
        (!query.has("ref") || p.ref === query.get("ref")) &&
        (!query.has("source") || query.get("source") === "trigger") &&
        (!query.has("sha") || query.get("sha") === PIPELINE_SHA) &&
        (!query.has("status") || this.#current(p).status === query.get("status")) &&
        (updatedAfter === null || p.updatedAt > updatedAfter) &&
        (updatedBefore === null || p.updatedAt < updatedBefore) &&
        (createdAfter === null || p.createdAt > createdAfter) &&
        (createdBefore === null || p.createdAt < createdBefore),
    );
    all.sort((a, b) => a.id - b.id);
    if ((query.get("sort") ?? "desc") === "desc") all = all.reverse();
    const perPage = Number(query.get("per_page") ?? 20);
    const page = Number(query.get("page") ?? 1);
    return json(
      res,
      200,
      all.slice((page - 1) * perPage, page * perPage).map((p) => {
        const full = this.#pipelineJson(p, this.#current(p).status);
        const { id, iid, project_id, sha, ref, status, source, created_at, updated_at, web_url } =
          full;
        return { id, iid, project_id, sha, ref, status, source, created_at, updated_at, web_url };
      }),
    );
  }

  #current(p: PipelineState): ScriptStep {
    const step = p.steps[p.index] ?? { status: "success" };
    if (!p.cancelled) return step;
    // After a cancel GitLab answers "canceling" and later settles on "canceled".
    const settled = p.gets > p.cancelledAt;
    const jobs = (step.jobs ?? p.jobs).map((j) =>
      ["success", "failed", "skipped", "canceled"].includes(j.status)
        ? j
        : { ...j, status: "canceled" },
    );
    return { status: settled ? "canceled" : "canceling", jobs };
  }

  #trigger(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    body: string,
    query: URLSearchParams,
    project: string,
  ): Sent {
    if ([...query.keys()].length > 0) {
      // GitLab would accept them, but a token in a URL ends up in access logs.
      this.violations.push(
        `trigger parameters sent in the query string: ${[...query.keys()].join(",")}`,
      );
    }
    const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim();
    let fields: Record<string, unknown>;
    if (type === "application/json") {
      try {
        fields = JSON.parse(body) as Record<string, unknown>;
      } catch {
        return json(res, 400, { error: "body is not valid JSON" });
      }
    } else if (type === "application/x-www-form-urlencoded") {
      fields = {};
      const vars: Record<string, string> = {};
      for (const [k, v] of new URLSearchParams(body)) {
        const vm = /^variables\[(.+)\]$/.exec(k);
        if (vm) vars[vm[1]!] = v;
        else fields[k] = v;
      }
      if (Object.keys(vars).length) fields.variables = vars;
    } else {
      return this.#violation(res, `trigger body of type ${type || "(none)"}`, 400);
    }
    for (const k of Object.keys(fields)) {
      if (!TRIGGER_FIELDS.has(k)) this.violations.push(`undocumented trigger field ${k}`);
    }
    if (typeof fields.token !== "string" || fields.token === "")
      return json(res, 400, { error: "token is missing" });
    if (typeof fields.ref !== "string" || fields.ref === "")
      return json(res, 400, { error: "ref is missing" });
    if (fields.token !== this.triggerToken) return json(res, 404, { message: "404 Not Found" });
    const variables = (fields.variables ?? {}) as Record<string, unknown>;
    if (typeof variables !== "object" || Array.isArray(variables)) {
      return json(res, 400, { error: "variables is invalid" });
    }
    for (const [k, v] of Object.entries(variables)) {
      if (!/^[A-Za-z0-9_]+$/.test(k) || typeof v !== "string") {
        this.violations.push(`variable ${k} is not a string key/value`);
        return json(res, 400, { message: { base: [`Variables key ${k} is invalid`] } });
      }
    }
    const id = this.#nextPipeline++;
    const p: PipelineState = {
      id,
      ref: fields.ref,
      variables: { ...(variables as Record<string, string>) },
      createdAt: Date.now(),
      updatedAt: Date.now(),
      steps: this.script.map((s) => ({ ...s })),
      index: 0,
      cancelled: false,
      cancelledAt: 0,
      jobs: this.script.at(-1)?.jobs ?? [],
      gets: 0,
    };
    this.#pipelines.set(id, p);
    this.triggers.push({
      project,
      token: fields.token,
      ref: fields.ref,
      variables: variables as Record<string, string>,
      contentType: type,
      pipelineId: id,
    });
    return json(res, 201, this.#pipelineJson(p, "created"));
  }

  #pipelineJson(p: PipelineState, status: string) {
    return {
      id: p.id,
      iid: p.id - 999,
      project_id: PROJECT_ID,
      sha: PIPELINE_SHA,
      ref: p.ref,
      status,
      source: "trigger",
      created_at: new Date(p.createdAt).toISOString(),
      updated_at: new Date(p.updatedAt).toISOString(),
      web_url: `${this.url}/${this.projectPath}/-/pipelines/${p.id}`,
      before_sha: "0000000000000000000000000000000000000000",
      tag: false,
      yaml_errors: null,
      user: { id: 1, username: "airlock-bot", name: "Airlock", state: "active" },
      started_at: null,
      finished_at: null,
      committed_at: null,
      duration: null,
      queued_duration: null,
      coverage: null,
      detailed_status: { icon: `status_${status}`, text: status, label: status, group: status },
    };
  }

  #jobJson(p: PipelineState, j: ScriptedJob, i: number) {
    return {
      id: p.id * 100 + i,
      status: j.status,
      stage: j.stage ?? "test",
      name: j.name,
      ref: p.ref,
      tag: false,
      coverage: null,
      allow_failure: j.allow_failure ?? false,
      created_at: new Date().toISOString(),
      started_at: null,
      finished_at: null,
      erased_at: null,
      duration: j.duration ?? null,
      queued_duration: null,
      user: { id: 1, username: "airlock-bot" },
      pipeline: {
        id: p.id,
        project_id: PROJECT_ID,
        ref: p.ref,
        sha: "9d2a6f4e",
        status: this.#current(p).status,
      },
      web_url: `${this.url}/${this.projectPath}/-/jobs/${p.id * 100 + i}`,
      artifacts: [],
      runner: null,
      archived: false,
      ...(j.status === "failed" ? { failure_reason: j.failure_reason ?? "script_failure" } : {}),
    };
  }
}

/** Handlers return what `json` returns, so that `return json(...)` ends a branch. */
type Sent = true | undefined;

function json(res: http.ServerResponse, status: number, body: unknown): Sent {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
  return true;
}
