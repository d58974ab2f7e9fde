// A GitHub test double: a real HTTP server on 127.0.0.1 that checks every request against
// GitHub's published REST description (method, path template, parameters, JSON body) and serves
// a small in-memory GitHub. Anything outside the description is recorded as a violation; tests
// call `assertNoViolations()`.
//
//   const gh = await startGitHubDouble();
//   gh.addInstallation({ id: 1, account: "acme", repos: ["acme/app"] });
//   gh.addOrgMember("acme", "alice");
//   gh.setPermission("acme/app", "bob", "write");
//   gh.setFile("acme/app", "main", ".airlock.yml", "version: 1\n");
//   gh.addPull("acme/app", { number: 7, headSha, baseSha, author: "mallory" });
//   gh.setGitDir("acme/app", bareRepoDir);  // compare answers from the real commits
//   // client under test: baseUrl gh.url, appId gh.appId, privateKey gh.privateKey
//   gh.failNext(2, "rate-limit");
//   gh.checkRunConclusions("acme/app", headSha)  // { "airlock/approval": "action_required", ... }
//   gh.assertNoViolations();
//   await gh.close();
import assert from "node:assert/strict";
import {
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  randomUUID,
  verify as verifySignature,
} from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { sign as signWebhook } from "@octokit/webhooks-methods";
import { Reports } from "./github-checks.js";
import { compareCommits, comparisonJson } from "./github-compare.js";
import { coerce, loadDescription, type Operation, validatorsOf } from "./github-description.js";
import {
  type CheckRun,
  type CommitStatus,
  type Ctx,
  type Fault,
  faultAnswer,
  type Handler,
  type HookDeliveryItem,
  HttpError,
  type Installation,
  type IssueComment,
  installationJson,
  type Permission,
  type PullSpec,
  pullJson,
  type RecordedRequest,
  type Token,
  userJson,
  type Violation,
} from "./github-model.js";

export { responseProblems } from "./github-description.js";
export type {
  CheckRun,
  CommitStatus,
  Fault,
  HookDeliveryItem,
  IssueComment,
  Permission,
  PullSpec,
  RecordedRequest,
  Violation,
} from "./github-model.js";

export interface GitHubDoubleOptions {
  appId?: number;
  /** PEM public key of the App; when omitted a key pair is generated (see `privateKey`). */
  publicKey?: string;
}

export class GitHubDouble {
  readonly violations: Violation[] = [];
  readonly requests: RecordedRequest[] = [];
  readonly appId: number;
  /** PEM private key of the App, when the double generated the pair. */
  readonly privateKey: string | null;
  url = "";

  private readonly publicKey: KeyObject;
  private server: Server | null = null;
  private readonly installations = new Map<number, Installation>();
  private readonly tokens = new Map<string, Token>();
  private readonly orgMembers = new Map<string, Set<string>>();
  private readonly teams = new Map<string, Map<string, string>>();
  private readonly permissions = new Map<string, Permission>();
  private readonly files = new Map<string, string>();
  private readonly pulls = new Map<string, PullSpec>();
  private readonly gitDirs = new Map<string, string>();
  private faults: Fault[] = [];
  private webhook: { url: string; secret: string } | null = null;
  /** Every delivery attempt, oldest first, with the body it sent. */
  private readonly hookDeliveries: { item: HookDeliveryItem; body: string }[] = [];
  private readonly redeliveries: Promise<unknown>[] = [];
  private nextId = 1000;
  private readonly routes = new Map<string, Handler>();
  private readonly reports: Reports;

  constructor(opts: GitHubDoubleOptions = {}) {
    this.appId = opts.appId ?? 4242;
    if (opts.publicKey) {
      this.publicKey = createPublicKey(opts.publicKey);
      this.privateKey = null;
    } else {
      const pair = generateKeyPairSync("rsa", { modulusLength: 2048 });
      this.publicKey = pair.publicKey;
      this.privateKey = pair.privateKey.export({ type: "pkcs1", format: "pem" }).toString();
    }
    this.reports = new Reports(
      () => this.nextId++,
      this.appId,
      () => this.url,
    );
    this.defineRoutes();
    this.reports.routes(
      (key, h) => this.on(key, h),
      (c) => this.repoOf(c),
    );
  }

  // ---- set-up -------------------------------------------------------------------------------

  addInstallation(i: { id: number; account: string; repos: string[] }): void {
    this.installations.set(i.id, { id: i.id, account: i.account, repos: new Set(i.repos) });
  }

  addOrgMember(org: string, login: string): void {
    const s = this.orgMembers.get(org) ?? new Set();
    s.add(login.toLowerCase());
    this.orgMembers.set(org, s);
  }

  removeOrgMember(org: string, login: string): void {
    this.orgMembers.get(org)?.delete(login.toLowerCase());
  }

  addTeamMember(
    org: string,
    team: string,
    login: string,
    role: "member" | "maintainer" = "member",
  ): void {
    const key = `${org}/${team}`;
    const m = this.teams.get(key) ?? new Map();
    m.set(login.toLowerCase(), role);
    this.teams.set(key, m);
  }

  setPermission(repo: string, login: string, permission: Permission): void {
    this.permissions.set(`${repo}#${login.toLowerCase()}`, permission);
  }

  /** A file at a ref: a branch name or a commit SHA, whichever the client will ask for. */
  setFile(repo: string, ref: string, filePath: string, content: string): void {
    this.files.set(`${repo}@${ref}:${filePath}`, content);
  }

  addPull(repo: string, pr: PullSpec): void {
    this.pulls.set(`${repo}#${pr.number}`, { ...pr });
  }

  /** Changes what the API says about a PR from now on (state, draft, labels, …). */
  updatePull(repo: string, number: number, changes: Partial<Omit<PullSpec, "number">>): void {
    const pr = this.pulls.get(`${repo}#${number}`);
    assert.ok(pr, `no pull request ${repo}#${number}`);
    Object.assign(pr, changes);
  }

  /** A git repository holding the repository's commits: compare answers from it. */
  setGitDir(repo: string, dir: string): void {
    this.gitDirs.set(repo, dir);
  }

  /** A push to the PR's head branch. */
  pushPull(repo: string, number: number, headSha: string): void {
    const pr = this.pulls.get(`${repo}#${number}`);
    assert.ok(pr, `no pull request ${repo}#${number}`);
    pr.headSha = headSha;
  }

  /** The next `n` requests (after validation) answer with the fault instead of their result. */
  failNext(n: number, fault: Fault): void {
    for (let i = 0; i < n; i++) this.faults.push(fault);
  }

  /** Where the App's webhook deliveries go, and the secret GitHub signs them with. */
  setWebhook(url: string, secret: string): void {
    this.webhook = { url, secret };
  }

  /**
   * Delivers an event to the App's webhook as GitHub does: signed, under a new delivery guid, and
   * recorded with the answer (what GET /app/hook/deliveries lists). Resolves with that answer.
   */
  async deliverWebhook(
    event: string,
    payload: unknown,
    o: { guid?: string; secret?: string } = {},
  ): Promise<{ guid: string; status: number }> {
    const guid = o.guid ?? randomUUID();
    const body = JSON.stringify(payload);
    const action = (payload as { action?: unknown }).action;
    const status = await this.post(guid, event, typeof action === "string" ? action : null, body, {
      redelivery: false,
      ...(o.secret ? { secret: o.secret } : {}),
    });
    return { guid, status };
  }

  /** Waits until every redelivery asked for so far has been attempted. */
  async redelivered(): Promise<void> {
    await Promise.all(this.redeliveries);
  }

  /** Every delivery attempt, newest first. */
  deliveries(): HookDeliveryItem[] {
    return this.hookDeliveries.map((d) => d.item).reverse();
  }

  private async post(
    guid: string,
    event: string,
    action: string | null,
    body: string,
    o: { redelivery: boolean; secret?: string },
  ): Promise<number> {
    assert.ok(this.webhook, "the double has no webhook: call setWebhook first");
    const started = performance.now();
    let status = 502;
    let text = "failed to connect";
    try {
      const res = await fetch(this.webhook.url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "user-agent": "GitHub-Hookshot/double",
          "x-github-event": event,
          "x-github-delivery": guid,
          "x-github-hook-installation-target-type": "integration",
          "x-hub-signature-256": await signWebhook(o.secret ?? this.webhook.secret, body),
        },
        body,
      });
      await res.arrayBuffer();
      status = res.status;
      text = res.statusText || "OK";
    } catch {
      // No answer: GitHub records a failed attempt.
    }
    const p = JSON.parse(body) as { installation?: { id?: number }; repository?: { id?: number } };
    this.hookDeliveries.push({
      body,
      item: {
        id: this.nextId++,
        guid,
        delivered_at: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
        redelivery: o.redelivery,
        duration: (performance.now() - started) / 1000,
        status: text,
        status_code: status,
        event,
        action,
        installation_id: p.installation?.id ?? null,
        repository_id: p.repository?.id ?? null,
        throttled_at: null,
      },
    });
    return status;
  }

  // ---- inspection ---------------------------------------------------------------------------

  checkRuns(repo?: string, headSha?: string): CheckRun[] {
    return this.reports.checkRuns(repo, headSha);
  }

  /** Name → conclusion (or status while not completed) of each check run on a commit. */
  checkRunConclusions(repo: string, headSha: string): Record<string, string> {
    const out: Record<string, string> = {};
    for (const c of this.checkRuns(repo, headSha)) out[c.name] = c.conclusion ?? c.status;
    return out;
  }

  statuses(repo: string, sha: string): CommitStatus[] {
    return this.reports.statuses(repo, sha);
  }

  comments(repo: string, issue?: number): IssueComment[] {
    return this.reports.comments(repo, issue);
  }

  assertNoViolations(): void {
    assert.deepEqual(this.violations, [], "requests outside GitHub's REST description");
  }

  // ---- server -------------------------------------------------------------------------------

  async listen(): Promise<this> {
    loadDescription();
    this.server = createServer((req, res) => {
      this.serve(req, res).catch((e) => {
        res.writeHead(500, { "content-type": "application/json" });
        res.end(JSON.stringify({ message: String(e) }));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    this.server = null;
  }

  private violation(req: IncomingMessage, kind: string, message: string): void {
    this.violations.push({ method: req.method ?? "", url: req.url ?? "", kind, message });
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const rawBody = Buffer.concat(chunks).toString("utf8");
    const url = new URL(req.url ?? "/", "http://double");
    const method = req.method ?? "GET";
    const send = (status: number, body?: unknown, headers: Record<string, string> = {}) => {
      const text = body === undefined ? "" : typeof body === "string" ? body : JSON.stringify(body);
      res.writeHead(status, {
        ...(body !== undefined && typeof body !== "string"
          ? { "content-type": "application/json; charset=utf-8" }
          : {}),
        "x-github-media-type": "github.v3",
        "x-ratelimit-limit": "5000",
        "x-ratelimit-remaining": "4999",
        ...headers,
      });
      res.end(text);
    };
    const record = (operationId: string | null, body: unknown, status: number) =>
      this.requests.push({ method, url: req.url ?? "", operationId, body, status });

    const d = loadDescription();
    let op: Operation | undefined;
    let match: RegExpExecArray | null = null;
    for (const o of d.operations) {
      if (o.method !== method && !(method === "HEAD" && o.method === "GET")) continue;
      match = o.regex.exec(url.pathname);
      if (match) {
        op = o;
        break;
      }
    }
    if (!op || !match) {
      this.violation(
        req,
        "unknown-operation",
        `no operation ${method} ${url.pathname} in the description`,
      );
      record(null, rawBody, 404);
      return send(404, { message: "Not Found" });
    }
    const v = validatorsOf(d, op);

    // Parameters.
    const params: Record<string, string> = {};
    op.paramNames.forEach((name, i) => {
      params[name] = decodeURIComponent(match![i + 1]!);
    });
    for (const p of op.parameters) {
      if (p.in === "path") {
        const check = v.params.get(`path:${p.name}`);
        const value = params[p.name];
        if (value === undefined || (check && !check(coerce(value, p.schema)))) {
          this.violation(
            req,
            "parameter",
            `path parameter ${p.name}=${value} does not match its schema`,
          );
        }
      }
    }
    for (const [name, value] of url.searchParams) {
      const p = op.parameters.find((x) => x.in === "query" && x.name === name);
      if (!p) {
        this.violation(
          req,
          "parameter",
          `query parameter ${name} is not described for ${op.operationId}`,
        );
        continue;
      }
      const check = v.params.get(`query:${name}`);
      if (check && !check(coerce(value, p.schema))) {
        this.violation(
          req,
          "parameter",
          `query parameter ${name}=${value}: ${d.ajv.errorsText(check.errors)}`,
        );
      }
    }
    for (const p of op.parameters) {
      if (p.in === "query" && p.required && !url.searchParams.has(p.name)) {
        this.violation(req, "parameter", `required query parameter ${p.name} is missing`);
      }
    }

    // Body.
    let body: Record<string, unknown> = {};
    if (rawBody.length > 0) {
      if (!op.bodySchema) {
        this.violation(req, "body", `${op.operationId} takes no JSON body`);
      } else {
        const ct = req.headers["content-type"] ?? "";
        if (!ct.startsWith("application/json")) {
          this.violation(req, "body", `content-type ${ct} is not application/json`);
        }
        try {
          body = JSON.parse(rawBody);
        } catch {
          this.violation(req, "body", "body is not JSON");
        }
        if (v.body && !v.body(body)) {
          this.violation(req, "body", `${op.operationId}: ${d.ajv.errorsText(v.body.errors)}`);
        }
      }
    } else if (op.bodyRequired) {
      this.violation(req, "body", `${op.operationId} requires a body`);
    }

    const fault = this.faults.shift();
    if (fault) {
      const f = faultAnswer(fault);
      record(op.operationId, body, f.status);
      return send(f.status, f.body, f.headers);
    }

    const handler = this.routes.get(`${op.method} ${op.template}`);
    if (!handler) {
      this.violation(req, "unimplemented", `the double does not implement ${op.operationId}`);
      record(op.operationId, body, 501);
      return send(501, { message: `${op.operationId} is not implemented by the test double` });
    }
    try {
      const installation = op.template.startsWith("/app")
        ? this.requireJwt(req)
        : this.requireToken(req);
      const out = handler({
        params,
        query: url.searchParams,
        body,
        headers: req.headers,
        installation,
      });
      record(op.operationId, body, out.status);
      return send(out.status, method === "HEAD" ? undefined : out.body, out.headers);
    } catch (e) {
      if (!(e instanceof HttpError)) throw e;
      record(op.operationId, body, e.status);
      return send(e.status, {
        message: e.message,
        documentation_url: "https://docs.github.com/rest",
      });
    }
  }

  // ---- authentication -----------------------------------------------------------------------

  /** App endpoints take a JWT signed RS256 with the App's key (GitHub: iat/exp within 10 min). */
  private requireJwt(req: IncomingMessage): null {
    const auth = req.headers.authorization ?? "";
    const m = /^Bearer ([\w-]+)\.([\w-]+)\.([\w-]+)$/i.exec(auth);
    if (!m) throw new HttpError(401, "A JSON web token could not be decoded");
    const [, h, p, s] = m;
    const header = JSON.parse(Buffer.from(h!, "base64url").toString());
    const claims = JSON.parse(Buffer.from(p!, "base64url").toString());
    const ok =
      header.alg === "RS256" &&
      verifySignature(
        "RSA-SHA256",
        Buffer.from(`${h}.${p}`),
        this.publicKey,
        Buffer.from(s!, "base64url"),
      );
    if (!ok) throw new HttpError(401, "A JSON web token could not be decoded");
    const now = Math.floor(Date.now() / 1000);
    if (String(claims.iss) !== String(this.appId))
      throw new HttpError(401, "'Issuer' claim ('iss') must be the App id");
    if (typeof claims.exp !== "number" || claims.exp <= now)
      throw new HttpError(401, "'Expiration time' claim ('exp') is too far in the past");
    if (typeof claims.iat !== "number" || claims.iat > now + 60)
      throw new HttpError(
        401,
        "'Issued at' claim ('iat') must be an Integer representing a time in the past",
      );
    if (claims.exp - claims.iat > 600)
      throw new HttpError(401, "'Expiration time' claim ('exp') is too far in the future");
    return null;
  }

  private requireToken(req: IncomingMessage): Installation {
    const auth = req.headers.authorization ?? "";
    const m = /^(?:token|Bearer) (ghs_\w+)$/i.exec(auth);
    const t = m ? this.tokens.get(m[1]!) : undefined;
    if (!t || t.expiresAt <= Date.now()) throw new HttpError(401, "Bad credentials");
    return this.installations.get(t.installationId)!;
  }

  private repoOf(c: Ctx): string {
    const repo = `${c.params.owner}/${c.params.repo}`;
    // GitHub answers 404, not 403, for a repository outside the installation.
    if (!c.installation?.repos.has(repo)) throw new HttpError(404, "Not Found");
    return repo;
  }

  // ---- routes -------------------------------------------------------------------------------

  private on(key: string, h: Handler): void {
    this.routes.set(key, h);
  }

  private defineRoutes(): void {
    this.on("GET /app/hook/deliveries", (c) => {
      const perPage = Math.min(100, Number(c.query.get("per_page") ?? 30));
      const wanted = c.query.get("status");
      const all = this.deliveries().filter((d) => {
        const ok = d.status_code >= 200 && d.status_code < 400;
        return wanted === null || (wanted === "success") === ok;
      });
      const cursor = c.query.get("cursor");
      const from = cursor ? Number(/^v1_(\d+)$/.exec(cursor)?.[1] ?? Number.NaN) : 0;
      if (!Number.isInteger(from)) throw new HttpError(400, "Bad cursor");
      const page = all.slice(from, from + perPage);
      const next = from + perPage < all.length;
      const link = `<${this.url}/app/hook/deliveries?per_page=${perPage}${wanted ? `&status=${wanted}` : ""}&cursor=v1_${from + perPage}>; rel="next"`;
      const headers: Record<string, string> = next ? { link } : {};
      return { status: 200, body: page, headers };
    });
    this.on("POST /app/hook/deliveries/{delivery_id}/attempts", (c) => {
      const d = this.hookDeliveries.find((x) => x.item.id === Number(c.params.delivery_id));
      if (!d) throw new HttpError(404, "Not Found");
      // Accepted now, sent a moment later, as GitHub does.
      const { guid, event, action } = d.item;
      this.redeliveries.push(this.post(guid, event, action, d.body, { redelivery: true }));
      return { status: 202, body: {} };
    });
    this.on("GET /app/installations", () => ({
      status: 200,
      body: [...this.installations.values()].map((i) => installationJson(i)),
    }));
    this.on("POST /app/installations/{installation_id}/access_tokens", (c) => {
      const inst = this.installations.get(Number(c.params.installation_id));
      if (!inst) throw new HttpError(404, "Not Found");
      const token = `ghs_${randomBytes(18).toString("hex")}`;
      const expiresAt = Date.now() + 3600_000;
      this.tokens.set(token, { installationId: inst.id, expiresAt });
      return {
        status: 201,
        body: {
          token,
          expires_at: new Date(expiresAt).toISOString().replace(/\.\d+Z$/, "Z"),
          permissions: {
            checks: "write",
            contents: "read",
            pull_requests: "read",
            issues: "write",
            members: "read",
          },
          repository_selection: "selected",
        },
      };
    });
    this.on("GET /repos/{owner}/{repo}/installation", (c) => {
      const repo = `${c.params.owner}/${c.params.repo}`;
      const inst = [...this.installations.values()].find((i) => i.repos.has(repo));
      if (!inst) throw new HttpError(404, "Not Found");
      return { status: 200, body: installationJson(inst) };
    });

    this.on("GET /orgs/{org}/members/{username}", (c) => {
      if (c.installation?.account !== c.params.org) throw new HttpError(404, "Not Found");
      const member = this.orgMembers.get(c.params.org!)?.has(c.params.username!.toLowerCase());
      return { status: member ? 204 : 404, ...(member ? {} : { body: { message: "Not Found" } }) };
    });
    this.on("GET /orgs/{org}/teams/{team_slug}/memberships/{username}", (c) => {
      if (c.installation?.account !== c.params.org) throw new HttpError(404, "Not Found");
      const role = this.teams
        .get(`${c.params.org}/${c.params.team_slug}`)
        ?.get(c.params.username!.toLowerCase());
      if (!role) throw new HttpError(404, "Not Found");
      return {
        status: 200,
        body: {
          url: `${this.url}/teams/1/memberships/${c.params.username}`,
          role,
          state: "active",
        },
      };
    });
    this.on("GET /repos/{owner}/{repo}/collaborators/{username}/permission", (c) => {
      const repo = this.repoOf(c);
      const role = this.permissions.get(`${repo}#${c.params.username!.toLowerCase()}`) ?? "none";
      // `permission` is the legacy coarse value; `role_name` the precise one.
      const legacy = role === "maintain" ? "write" : role === "triage" ? "read" : role;
      return {
        status: 200,
        body: { permission: legacy, role_name: role, user: userJson(c.params.username!) },
      };
    });

    this.on("GET /repos/{owner}/{repo}/contents/{path}", (c) => {
      const repo = this.repoOf(c);
      const ref = c.query.get("ref") ?? "main";
      const content = this.files.get(`${repo}@${ref}:${c.params.path}`);
      if (content === undefined) throw new HttpError(404, "Not Found");
      const accept = String(c.headers.accept ?? "");
      if (accept.includes("raw"))
        return {
          status: 200,
          body: content,
          headers: { "content-type": "application/vnd.github.raw" },
        };
      // As GitHub does, files over 1 MB come without their content.
      const size = Buffer.byteLength(content);
      const b64 =
        size > 1_000_000
          ? ""
          : Buffer.from(content)
              .toString("base64")
              .replace(/(.{60})/g, "$1\n");
      return {
        status: 200,
        body: {
          type: "file",
          encoding: size > 1_000_000 ? "none" : "base64",
          size,
          name: path.posix.basename(c.params.path!),
          path: c.params.path,
          content: b64,
          sha: randomBytes(20).toString("hex"),
        },
      };
    });
    this.on("GET /repos/{owner}/{repo}/pulls/{pull_number}", (c) => {
      const repo = this.repoOf(c);
      const pr = this.pulls.get(`${repo}#${c.params.pull_number}`);
      if (!pr) throw new HttpError(404, "Not Found");
      return { status: 200, body: pullJson(repo, pr) };
    });

    // The description has the comparison twice: `{basehead}`, and the older `{base}...{head}`
    // (the more specific template, so the one a request matches).
    const compare: Handler = (c) => {
      const repo = this.repoOf(c);
      const dir = this.gitDirs.get(repo);
      const [base, head] = c.params.basehead?.split("...") ?? [c.params.base, c.params.head];
      const full = /^[0-9a-f]{40}$/;
      if (!dir || !base || !head || !full.test(base) || !full.test(head)) {
        throw new HttpError(404, "Not Found");
      }
      const cmp = compareCommits(dir, base, head);
      if (!cmp) throw new HttpError(404, "Not Found");
      const perPage = Number(c.query.get("per_page") ?? 250);
      return { status: 200, body: comparisonJson(repo, base, head, cmp, perPage) };
    };
    this.on("GET /repos/{owner}/{repo}/compare/{basehead}", compare);
    this.on("GET /repos/{owner}/{repo}/compare/{base}...{head}", compare);
  }
}

/** Starts a double on a random loopback port. */
export async function startGitHubDouble(opts: GitHubDoubleOptions = {}): Promise<GitHubDouble> {
  return new GitHubDouble(opts).listen();
}
