// A Vault test double: a real HTTP server on 127.0.0.1 with an in-memory Vault behind it
// (KV v1 and v2 with versions, ACL policies by path glob, tokens with TTL/num_uses/children,
// AppRole and JWT login, dynamic AWS credentials with leases, response wrapping, sealing).
// Every request is first checked against Vault's OpenAPI description (oracle.ts); a request
// the description does not contain is recorded in `violations` and answered with an error,
// and tests assert that `violations` stays empty.
import { createPublicKey, randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  type JWK,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
} from "jose";
import { type AuthMount, type Match, type SecretMount, VaultOracle } from "./oracle.js";

type Json = Record<string, unknown>;

interface Token {
  id: string;
  accessor: string;
  policies: string[];
  meta: Record<string, string>;
  displayName: string;
  createdAt: number;
  /** 0: never. */
  expiresAt: number;
  creationTtl: number;
  /** 0: unlimited. */
  numUses: number;
  usesLeft: number;
  renewable: boolean;
  parent?: string;
  children: Set<string>;
  revoked: boolean;
}

interface KvVersion {
  data: Json;
  created: number;
  deleted: number;
  destroyed: boolean;
}
interface KvEntry {
  versions: Map<number, KvVersion>;
  current: number;
  oldest: number;
  created: number;
  updated: number;
  maxVersions: number;
  casRequired: boolean;
}

export interface Lease {
  id: string;
  path: string;
  issuer: string;
  revoked: boolean;
  data: Json;
}

export interface Fault {
  method?: string;
  path: RegExp;
  status: number;
  errors?: string[];
  times: number;
}

export interface RecordedRequest {
  method: string;
  path: string;
  operationId?: string;
  namespace?: string;
  wrapTtl?: string;
  status: number;
}

const KV2_MOUNT = "secret";
const KV1_MOUNT = "kv";
const AWS_MOUNT = "aws";

const SECRET_MOUNTS: SecretMount[] = [
  { path: KV2_MOUNT, type: "kv", version: 2 },
  { path: KV1_MOUNT, type: "kv", version: 1 },
  { path: AWS_MOUNT, type: "aws" },
];
const AUTH_MOUNTS: AuthMount[] = [
  { path: "approle", type: "approle" },
  { path: "jwt", type: "jwt" },
];

/** Vault's own `default` policy, reduced to what the double serves. */
const DEFAULT_POLICY: Record<string, string[]> = {
  "auth/token/lookup-self": ["read"],
  "auth/token/renew-self": ["update"],
  "auth/token/revoke-self": ["update"],
  "sys/capabilities-self": ["update"],
};

const UNAUTHENTICATED = new Set([
  "seal-status",
  "read-health-status",
  "app-role-login",
  "jwt-login",
  "unwrap",
]);

/** Endpoints that decide access themselves instead of by the request path's ACL. */
const OWN_ACL = new Set(["internal-ui-read-mount-information"]);

let oracle: VaultOracle | undefined;

const rand = (
  n: number,
  alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
) => Array.from(randomBytes(n), (b) => alphabet[b % alphabet.length]).join("");

/** Vault durations: "90", "90s", "5m", "1h30m". */
export function parseVaultDuration(v: unknown): number {
  if (typeof v === "number") return v;
  if (typeof v !== "string" || v === "") return 0;
  if (/^\d+$/.test(v)) return Number(v);
  let total = 0;
  const re = /(\d+)(ms|s|m|h|d)/g;
  for (let m = re.exec(v); m; m = re.exec(v)) {
    const n = Number(m[1]);
    total += { ms: n / 1000, s: n, m: n * 60, h: n * 3600, d: n * 86400 }[m[2]!] ?? 0;
  }
  return Math.floor(total);
}

export class VaultDouble {
  readonly violations: string[] = [];
  readonly requests: RecordedRequest[] = [];
  readonly leases = new Map<string, Lease>();
  readonly rootToken: string;
  sealed = false;
  /** When set, authenticated requests must carry this X-Vault-Namespace. */
  namespace: string | undefined;
  private clockOffset = 0;
  private readonly tokens = new Map<string, Token>();
  private readonly byAccessor = new Map<string, string>();
  private readonly policies = new Map<string, Record<string, string[]>>();
  private readonly kv2 = new Map<string, KvEntry>();
  private readonly kv1 = new Map<string, Json>();
  private readonly appRoles = new Map<string, { secretId: string; policies: string[] }>();
  private readonly jwtRoles = new Map<string, { jwt: string; policies: string[] }>();
  /** `auth/jwt/config` and `auth/jwt/role/*` as written through the API (Vault's JWT auth). */
  private jwtConfig: Json | undefined;
  private readonly boundJwtRoles = new Map<string, Json>();
  /** Claims of every JWT login Vault accepted, for tests. */
  readonly jwtLogins: { role: string; claims: JWTPayload }[] = [];
  private readonly awsRoles = new Set<string>();
  private readonly wrapped = new Map<string, { body: Json; expiresAt: number }>();
  private readonly faults: Fault[] = [];

  private constructor(
    private readonly server: Server,
    readonly address: string,
  ) {
    this.rootToken = this.mintToken({ policies: ["root"] }).token;
  }

  static async start(): Promise<VaultDouble> {
    oracle ??= new VaultOracle(SECRET_MOUNTS, AUTH_MOUNTS);
    let self: VaultDouble | undefined;
    const server = createServer((req, res) => {
      self!.handle(req, res).catch((e) => {
        self!.violations.push(`double crashed on ${req.method} ${req.url}: ${String(e)}`);
        if (!res.headersSent) res.writeHead(500).end('{"errors":["internal error"]}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as AddressInfo).port;
    self = new VaultDouble(server, `http://127.0.0.1:${port}`);
    return self;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ---- test set-up ----

  now(): number {
    return Date.now() + this.clockOffset;
  }
  /** Moves the double's clock, so that TTLs run out without waiting. */
  advance(ms: number): void {
    this.clockOffset += ms;
  }

  setPolicy(name: string, rules: Record<string, string[]>): void {
    this.policies.set(name, rules);
  }

  mintToken(o: {
    policies: string[];
    ttlSec?: number;
    numUses?: number;
    meta?: Record<string, string>;
    parent?: string;
    renewable?: boolean;
    displayName?: string;
  }): { token: string; accessor: string } {
    const id = `hvs.${rand(24)}`;
    const accessor = rand(24);
    const now = this.now();
    const t: Token = {
      id,
      accessor,
      policies: o.policies,
      meta: o.meta ?? {},
      displayName: o.displayName ?? "token",
      createdAt: now,
      expiresAt: o.ttlSec ? now + o.ttlSec * 1000 : 0,
      creationTtl: o.ttlSec ?? 0,
      numUses: o.numUses ?? 0,
      usesLeft: o.numUses ?? 0,
      renewable: o.renewable ?? true,
      parent: o.parent,
      children: new Set(),
      revoked: false,
    };
    this.tokens.set(id, t);
    this.byAccessor.set(accessor, id);
    if (o.parent) this.tokens.get(o.parent)?.children.add(id);
    return { token: id, accessor };
  }

  /** Whether a token would be accepted now (for tests; does not use it up). */
  tokenValid(token: string): boolean {
    return this.liveToken(token) !== undefined;
  }

  tokenInfo(token: string): Token | undefined {
    return this.tokens.get(token);
  }

  tokenByAccessor(accessor: string): Token | undefined {
    const id = this.byAccessor.get(accessor);
    return id ? this.tokens.get(id) : undefined;
  }

  /** Tokens whose metadata includes every given pair (e.g. the run and job Airlock named). */
  tokensWithMeta(meta: Record<string, string>): Token[] {
    return [...this.tokens.values()].filter((t) =>
      Object.entries(meta).every(([k, v]) => t.meta[k] === v),
    );
  }

  kvPut(path: string, data: Json): number {
    return this.kv2Write(path, data);
  }
  kv1Put(path: string, data: Json): void {
    this.kv1.set(path, data);
  }
  kvVersions(path: string): Map<number, KvVersion> | undefined {
    return this.kv2.get(path)?.versions;
  }
  addAppRole(roleId: string, secretId: string, policies: string[]): void {
    this.appRoles.set(roleId, { secretId, policies });
  }
  addJwtRole(role: string, jwt: string, policies: string[]): void {
    this.jwtRoles.set(role, { jwt, policies });
  }
  addAwsRole(name: string): void {
    this.awsRoles.add(name);
  }
  /** The next `times` requests matching answer `status` (before anything else happens). */
  fail(f: Omit<Fault, "times"> & { times?: number }): Fault {
    const fault = { times: 1, ...f };
    this.faults.push(fault);
    return fault;
  }

  // ---- HTTP ----

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString("utf8");
    const url = new URL(req.url ?? "/", "http://double");
    const method = req.method ?? "GET";
    const rec: RecordedRequest = { method, path: url.pathname, status: 0 };
    const ns = req.headers["x-vault-namespace"];
    if (typeof ns === "string") rec.namespace = ns;
    const wrapTtl = req.headers["x-vault-wrap-ttl"];
    if (typeof wrapTtl === "string") rec.wrapTtl = wrapTtl;
    this.requests.push(rec);
    const send = (status: number, body?: unknown) => {
      rec.status = status;
      if (body === undefined) {
        res.writeHead(status).end();
      } else {
        res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
      }
    };

    if (!url.pathname.startsWith("/v1/")) {
      this.violations.push(`${method} ${url.pathname}: not under /v1/`);
      return send(404, { errors: [] });
    }
    let path: string;
    try {
      path = url.pathname.slice(4).split("/").map(decodeURIComponent).join("/");
    } catch {
      this.violations.push(`${method} ${url.pathname}: bad percent-encoding`);
      return send(400, { errors: ["bad path"] });
    }
    let body: unknown;
    if (raw.length > 0) {
      try {
        body = JSON.parse(raw);
      } catch {
        this.violations.push(`${method} /v1/${path}: body is not JSON`);
        return send(400, { errors: ["failed to parse JSON input"] });
      }
    }
    const checked = oracle!.check(method, path, url.searchParams, body);
    if ("violation" in checked) {
      this.violations.push(checked.violation);
      return send(405, { errors: ["unsupported operation"] });
    }
    const match = checked.match;
    rec.operationId = match.operationId;

    const fault = this.faults.find(
      (f) => f.times > 0 && (!f.method || f.method === method) && f.path.test(path),
    );
    if (fault) {
      fault.times--;
      return send(fault.status, { errors: fault.errors ?? [] });
    }

    if (this.sealed && !["seal-status", "read-health-status"].includes(match.operationId)) {
      return send(503, { errors: ["Vault is sealed"] });
    }

    const tokenHeader = req.headers["x-vault-token"];
    const ctx: Ctx = {
      method,
      path,
      match,
      query: url.searchParams,
      body: (body ?? {}) as Json,
      headerToken: typeof tokenHeader === "string" ? tokenHeader : undefined,
    };

    let caller: Token | undefined;
    if (!UNAUTHENTICATED.has(match.operationId)) {
      if (this.namespace !== undefined && rec.namespace !== this.namespace) {
        return send(403, { errors: ["permission denied"] });
      }
      caller = ctx.headerToken ? this.liveToken(ctx.headerToken) : undefined;
      if (!caller) return send(403, { errors: ["permission denied"] });
      const need = this.capabilityFor(ctx);
      if (!OWN_ACL.has(match.operationId) && !this.allowed(caller, path, need)) {
        this.useToken(caller);
        return send(403, { errors: ["1 error occurred:\n\t* permission denied\n\n"] });
      }
      this.useToken(caller);
    }

    const [status, out] = await this.dispatch(ctx, caller);
    if (out && status === 200 && typeof wrapTtl === "string" && match.operationId !== "unwrap") {
      const token = `hvs.${rand(24)}`;
      const ttl = parseVaultDuration(wrapTtl);
      this.wrapped.set(token, { body: out, expiresAt: this.now() + ttl * 1000 });
      return send(200, {
        ...envelope(null),
        wrap_info: {
          token,
          accessor: rand(24),
          ttl,
          creation_time: new Date(this.now()).toISOString(),
          creation_path: path,
        },
      });
    }
    return send(status, out);
  }

  private async dispatch(ctx: Ctx, caller: Token | undefined): Promise<[number, Json | undefined]> {
    const p = ctx.match.params;
    const b = ctx.body;
    switch (ctx.match.operationId) {
      case "seal-status":
        return [200, this.sealStatusBody()];
      case "read-health-status":
        return [this.sealed ? 503 : 200, { ...this.sealStatusBody(), standby: false }];
      case "internal-ui-read-mount-information":
        return this.mountInfo(p.path!, caller!);
      case "kv-v2-read":
        return this.kv2Read(p.path!, ctx.query.get("version"));
      case "kv-v2-write":
        return this.kv2WriteApi(p.path!, b);
      case "kv-v2-read-metadata":
        return this.kv2Metadata(p.path!);
      case "kv-v2-list":
        return this.kv2List(p.path!);
      case "kv-v2-delete":
        return this.kv2Mark(p.path!, [this.kv2.get(p.path!)?.current ?? 0], "delete");
      case "kv-v2-delete-versions":
        return this.kv2Mark(p.path!, b.versions as number[], "delete");
      case "kv-v2-undelete-versions":
        return this.kv2Mark(p.path!, b.versions as number[], "undelete");
      case "kv-v2-destroy-versions":
        return this.kv2Mark(p.path!, b.versions as number[], "destroy");
      case "kv-v1-read": {
        const d = this.kv1.get(p.path!);
        return d ? [200, envelope(d)] : [404, { errors: [] }];
      }
      case "kv-v1-write":
        this.kv1.set(p.path!, b);
        return [204, undefined];
      case "kv-v1-delete":
        this.kv1.delete(p.path!);
        return [204, undefined];
      case "token-create":
        return this.tokenCreate(b, caller!);
      case "token-look-up-self":
        return [200, envelope(this.lookupBody(caller!))];
      case "token-renew-self":
        return this.renew(caller!, b.increment);
      case "token-renew": {
        const t = this.liveToken(String(b.token ?? ""));
        return t ? this.renew(t, b.increment) : [400, { errors: ["token not found"] }];
      }
      case "token-revoke": {
        const t = this.tokens.get(String(b.token ?? ""));
        if (t) this.revoke(t);
        return [204, undefined];
      }
      case "token-revoke-accessor": {
        const t = this.tokenByAccessor(String(b.accessor ?? ""));
        if (!t || t.revoked)
          return [400, { errors: ["1 error occurred:\n\t* invalid accessor\n\n"] }];
        this.revoke(t);
        return [204, undefined];
      }
      case "token-revoke-self":
        this.revoke(caller!);
        return [204, undefined];
      case "app-role-login": {
        const role = this.appRoles.get(String(b.role_id ?? ""));
        if (!role || role.secretId !== b.secret_id) {
          return [400, { errors: ["invalid role or secret ID"] }];
        }
        return [200, this.loginBody(role.policies, { role_name: "airlock" })];
      }
      case "jwt-login": {
        const role = this.jwtRoles.get(String(b.role ?? ""));
        if (role && role.jwt === b.jwt) {
          return [200, this.loginBody(role.policies, { role: String(b.role) })];
        }
        return this.jwtLogin(String(b.role ?? ""), String(b.jwt ?? ""));
      }
      case "jwt-configure":
        this.jwtConfig = b;
        return [204, undefined];
      case "jwt-write-role":
        this.boundJwtRoles.set(p.name!, b);
        return [204, undefined];
      case "aws-generate-credentials":
        return this.awsCreds(p.name!, caller!);
      case "leases-revoke-lease": {
        const lease = this.leases.get(String(b.lease_id ?? ""));
        if (!lease) return [400, { errors: ["invalid lease ID"] }];
        lease.revoked = true;
        return [204, undefined];
      }
      case "unwrap":
        return this.unwrap(ctx);
      case "query-token-self-capabilities": {
        const paths = (b.paths as string[] | undefined) ?? [];
        const data: Json = {};
        for (const path of paths) {
          const caps = this.capabilities(caller!, path);
          data[path] = caps.length ? caps : ["deny"];
        }
        return [200, { ...envelope(data), ...data }];
      }
      case "policies-read-acl-policy": {
        const rules = this.policies.get(p.name!);
        if (!rules) return [404, { errors: [] }];
        const hcl = Object.entries(rules)
          .map(([path, caps]) => `path "${path}" {\n  capabilities = ${JSON.stringify(caps)}\n}`)
          .join("\n");
        return [200, envelope({ name: p.name, policy: hcl })];
      }
      default:
        return [405, { errors: [`the double does not serve ${ctx.match.operationId}`] }];
    }
  }

  // ---- JWT auth, as Vault's jwt plugin checks a login ----

  private async jwtKeys(): Promise<JWTVerifyGetKey | null> {
    const c = this.jwtConfig;
    if (!c) return null;
    if (typeof c.oidc_discovery_url === "string") {
      const doc = (await (
        await fetch(`${c.oidc_discovery_url.replace(/\/+$/, "")}/.well-known/openid-configuration`)
      ).json()) as { issuer: string; jwks_uri: string };
      // Vault checks that the discovery document names the issuer it was given.
      if (doc.issuer !== c.oidc_discovery_url.replace(/\/+$/, "")) return null;
      return createRemoteJWKSet(new URL(doc.jwks_uri));
    }
    if (Array.isArray(c.jwt_validation_pubkeys)) {
      const keys = (c.jwt_validation_pubkeys as string[]).map(
        (pem) => createPublicKey(pem).export({ format: "jwk" }) as JWK,
      );
      return createLocalJWKSet({ keys });
    }
    return null;
  }

  private async jwtLogin(roleName: string, jwt: string): Promise<[number, Json]> {
    const role = this.boundJwtRoles.get(roleName);
    if (!role) return [400, { errors: [`role "${roleName}" could not be found`] }];
    const keys = await this.jwtKeys();
    if (!keys) return [400, { errors: ["could not load configuration"] }];
    const bad = (why: string): [number, Json] => [400, { errors: [why] }];
    let claims: JWTPayload;
    try {
      const audiences = (role.bound_audiences as string[] | undefined) ?? [];
      ({ payload: claims } = await jwtVerify(jwt, keys, {
        ...(typeof this.jwtConfig?.bound_issuer === "string"
          ? { issuer: this.jwtConfig.bound_issuer }
          : {}),
        ...(audiences.length ? { audience: audiences } : {}),
        currentDate: new Date(this.now()),
        clockTolerance: 60,
      }));
    } catch (e) {
      return bad(`error validating token: ${(e as Error).message}`);
    }
    if (claims.aud !== undefined && !role.bound_audiences) {
      return bad("audience claim found in JWT but no audiences bound to the role");
    }
    if (typeof role.bound_subject === "string" && role.bound_subject !== claims.sub) {
      return bad("sub claim does not match bound subject");
    }
    for (const [k, want] of Object.entries((role.bound_claims as Json | undefined) ?? {})) {
      const allowed = Array.isArray(want) ? want.map(String) : [String(want)];
      if (!allowed.includes(String(claims[k]))) {
        return bad(`claim "${k}" does not match any associated bound claim values`);
      }
    }
    const userClaim = String(role.user_claim ?? "sub");
    if (claims[userClaim] === undefined) return bad(`claim "${userClaim}" not found in token`);
    this.jwtLogins.push({ role: roleName, claims });
    const { token } = this.mintToken({
      policies: ["default", ...((role.token_policies as string[] | undefined) ?? [])],
      ttlSec: parseVaultDuration(role.token_ttl) || 3600,
      meta: { role: roleName },
    });
    return [200, { ...envelope(null), auth: this.authBody(this.tokens.get(token)!) }];
  }

  // ---- tokens and ACL ----

  private liveToken(id: string): Token | undefined {
    const t = this.tokens.get(id);
    if (!t || t.revoked) return undefined;
    if (t.expiresAt && this.now() >= t.expiresAt) return undefined;
    if (t.numUses && t.usesLeft <= 0) return undefined;
    // A child dies with its parent.
    if (t.parent && !this.liveToken(t.parent)) return undefined;
    return t;
  }

  private useToken(t: Token): void {
    if (t.numUses === 0) return;
    t.usesLeft--;
    if (t.usesLeft <= 0) this.revoke(t);
  }

  private revoke(t: Token): void {
    t.revoked = true;
    for (const c of t.children) {
      const child = this.tokens.get(c);
      if (child && !child.revoked) this.revoke(child);
    }
    for (const l of this.leases.values()) if (l.issuer === t.id) l.revoked = true;
  }

  private capabilityFor(ctx: Ctx): string[] {
    if (ctx.query.get("list") === "true") return ["list"];
    if (ctx.method === "GET") return ["read"];
    if (ctx.method === "DELETE") return ["delete"];
    if (ctx.match.operationId === "kv-v2-write") {
      return this.kv2.has(ctx.match.params.path!) ? ["update"] : ["create"];
    }
    if (ctx.match.operationId === "kv-v1-write") {
      return this.kv1.has(ctx.match.params.path!) ? ["update"] : ["create"];
    }
    return ["update"];
  }

  private rulesOf(t: Token): Record<string, string[]>[] {
    return t.policies.map((p) => (p === "default" ? DEFAULT_POLICY : (this.policies.get(p) ?? {})));
  }

  capabilities(t: Token, path: string): string[] {
    if (t.policies.includes("root")) return ["root"];
    const caps = new Set<string>();
    for (const rules of this.rulesOf(t)) {
      for (const [glob, c] of Object.entries(rules))
        if (globMatch(glob, path)) for (const x of c) caps.add(x);
    }
    if (caps.has("deny")) return ["deny"];
    return [...caps];
  }

  private allowed(t: Token, path: string, need: string[]): boolean {
    const caps = this.capabilities(t, path);
    if (caps.includes("root")) return true;
    if (caps.includes("deny")) return false;
    return need.some((n) => caps.includes(n));
  }

  private lookupBody(t: Token): Json {
    const ttl = t.expiresAt ? Math.max(0, Math.floor((t.expiresAt - this.now()) / 1000)) : 0;
    return {
      accessor: t.accessor,
      creation_time: Math.floor(t.createdAt / 1000),
      creation_ttl: t.creationTtl,
      display_name: t.displayName,
      entity_id: "",
      expire_time: t.expiresAt ? new Date(t.expiresAt).toISOString() : null,
      explicit_max_ttl: 0,
      id: t.id,
      meta: Object.keys(t.meta).length ? t.meta : null,
      num_uses: t.numUses ? t.usesLeft : 0,
      orphan: !t.parent,
      path: "auth/token/create",
      policies: t.policies,
      renewable: t.renewable,
      ttl,
      type: "service",
    };
  }

  private authBody(t: Token): Json {
    return {
      client_token: t.id,
      accessor: t.accessor,
      policies: t.policies,
      token_policies: t.policies,
      metadata: Object.keys(t.meta).length ? t.meta : null,
      lease_duration: t.creationTtl,
      renewable: t.renewable,
      entity_id: "",
      token_type: "service",
      orphan: !t.parent,
      num_uses: t.numUses,
    };
  }

  private loginBody(policies: string[], meta: Record<string, string>): Json {
    const { token } = this.mintToken({ policies: ["default", ...policies], ttlSec: 3600, meta });
    return { ...envelope(null), auth: this.authBody(this.tokens.get(token)!) };
  }

  private tokenCreate(b: Json, caller: Token): [number, Json] {
    const requested = (b.policies as string[] | undefined) ?? caller.policies;
    const isRoot = caller.policies.includes("root");
    if (!isRoot) {
      const extra = requested.filter((p) => p !== "default" && !caller.policies.includes(p));
      if (extra.length) {
        return [400, { errors: ["child policies must be subset of parent"] }];
      }
    }
    const policies = [
      ...new Set(b.no_default_policy === true ? requested : ["default", ...requested]),
    ];
    const ttlSec = parseVaultDuration(b.ttl) || 2764800;
    const { token } = this.mintToken({
      policies,
      ttlSec,
      numUses: typeof b.num_uses === "number" ? b.num_uses : 0,
      meta: (b.meta as Record<string, string> | undefined) ?? {},
      parent: b.no_parent === true ? undefined : caller.id,
      renewable: b.renewable !== false,
      displayName: `token-${String(b.display_name ?? "")}`,
    });
    return [200, { ...envelope(null), auth: this.authBody(this.tokens.get(token)!) }];
  }

  private renew(t: Token, increment: unknown): [number, Json] {
    if (!t.renewable) return [400, { errors: ["lease is not renewable"] }];
    const inc = parseVaultDuration(increment) || t.creationTtl;
    t.expiresAt = this.now() + inc * 1000;
    return [200, { ...envelope(null), auth: this.authBody(t) }];
  }

  private unwrap(ctx: Ctx): [number, Json | undefined] {
    const id = typeof ctx.body.token === "string" ? ctx.body.token : ctx.headerToken;
    if (
      typeof ctx.body.token === "string" &&
      !(ctx.headerToken && this.liveToken(ctx.headerToken))
    ) {
      return [403, { errors: ["permission denied"] }];
    }
    const w = id ? this.wrapped.get(id) : undefined;
    if (!w || this.now() >= w.expiresAt) {
      return [400, { errors: ["wrapping token is not valid or does not exist"] }];
    }
    this.wrapped.delete(id!);
    return [200, w.body];
  }

  // ---- mounts, KV, AWS ----

  private sealStatusBody(): Json {
    return {
      type: "shamir",
      initialized: true,
      sealed: this.sealed,
      t: 1,
      n: 1,
      progress: 0,
      nonce: "",
      version: "1.17.0",
      build_date: "2024-06-10T10:11:34Z",
      migration: false,
      recovery_seal: false,
      storage_type: "inmem",
    };
  }

  private mountInfo(path: string, caller: Token): [number, Json] {
    const m = SECRET_MOUNTS.find((x) => path === x.path || path.startsWith(`${x.path}/`));
    if (!m) return [400, { errors: [`no mount found for path ${path}`] }];
    // Vault answers only if the token can do something somewhere under the mount.
    const anyAccess =
      caller.policies.includes("root") ||
      this.rulesOf(caller).some((rules) =>
        Object.entries(rules).some(
          ([glob, caps]) => glob.startsWith(`${m.path}/`) && !caps.includes("deny") && caps.length,
        ),
      );
    if (!anyAccess) {
      return [
        403,
        {
          errors: [
            "preflight capability check returned 403, please ensure client's policies grant access to path",
          ],
        },
      ];
    }
    return [
      200,
      envelope({
        path: `${m.path}/`,
        type: m.type,
        options: m.type === "kv" ? { version: String(m.version) } : null,
        accessor: `${m.type}_${m.path}`,
        config: {},
        description: "",
        local: false,
        seal_wrap: false,
        external_entropy_access: false,
        uuid: "00000000-0000-0000-0000-000000000000",
      }),
    ];
  }

  private kv2Write(path: string, data: Json, cas?: number): number {
    const now = this.now();
    let e = this.kv2.get(path);
    if (!e) {
      e = {
        versions: new Map(),
        current: 0,
        oldest: 0,
        created: now,
        updated: now,
        maxVersions: 10,
        casRequired: false,
      };
      this.kv2.set(path, e);
    }
    if (cas !== undefined && cas !== e.current) return -1;
    e.current++;
    e.updated = now;
    e.versions.set(e.current, {
      data: structuredClone(data),
      created: now,
      deleted: 0,
      destroyed: false,
    });
    if (e.oldest === 0) e.oldest = 1;
    while (e.versions.size > e.maxVersions) {
      e.versions.delete(e.oldest);
      e.oldest++;
    }
    return e.current;
  }

  private versionMeta(v: KvVersion, n: number): Json {
    return {
      version: n,
      created_time: new Date(v.created).toISOString(),
      deletion_time: v.deleted ? new Date(v.deleted).toISOString() : "",
      destroyed: v.destroyed,
      custom_metadata: null,
    };
  }

  private kv2Read(path: string, versionQ: string | null): [number, Json] {
    const e = this.kv2.get(path);
    if (!e) return [404, { errors: [] }];
    const n = versionQ && versionQ !== "0" ? Number(versionQ) : e.current;
    const v = e.versions.get(n);
    if (!v) return [404, { errors: [] }];
    if (v.deleted || v.destroyed)
      return [404, envelope({ data: null, metadata: this.versionMeta(v, n) })];
    return [200, envelope({ data: structuredClone(v.data), metadata: this.versionMeta(v, n) })];
  }

  private kv2WriteApi(path: string, b: Json): [number, Json] {
    const data = b.data;
    if (!data || typeof data !== "object") return [400, { errors: ["no data provided"] }];
    const cas = (b.options as Json | undefined)?.cas;
    const e = this.kv2.get(path);
    if (e?.casRequired && cas === undefined) {
      return [400, { errors: ["check-and-set parameter required for this call"] }];
    }
    const n = this.kv2Write(path, data as Json, typeof cas === "number" ? cas : undefined);
    if (n < 0)
      return [400, { errors: ["check-and-set parameter did not match the current version"] }];
    const v = this.kv2.get(path)!.versions.get(n)!;
    return [200, envelope(this.versionMeta(v, n))];
  }

  private kv2Metadata(path: string): [number, Json] {
    const e = this.kv2.get(path);
    if (!e) return [404, { errors: [] }];
    const versions: Json = {};
    for (const [n, v] of e.versions) {
      versions[String(n)] = {
        created_time: new Date(v.created).toISOString(),
        deletion_time: v.deleted ? new Date(v.deleted).toISOString() : "",
        destroyed: v.destroyed,
      };
    }
    return [
      200,
      envelope({
        cas_required: e.casRequired,
        created_time: new Date(e.created).toISOString(),
        current_version: e.current,
        custom_metadata: null,
        delete_version_after: "0s",
        max_versions: e.maxVersions,
        oldest_version: e.oldest,
        updated_time: new Date(e.updated).toISOString(),
        versions,
      }),
    ];
  }

  private kv2List(folder: string): [number, Json] {
    const prefix = folder.endsWith("/") ? folder : `${folder}/`;
    const keys = new Set<string>();
    for (const p of this.kv2.keys()) {
      if (!p.startsWith(prefix)) continue;
      const rest = p.slice(prefix.length);
      const slash = rest.indexOf("/");
      keys.add(slash < 0 ? rest : rest.slice(0, slash + 1));
    }
    if (keys.size === 0) return [404, { errors: [] }];
    return [200, envelope({ keys: [...keys].sort() })];
  }

  private kv2Mark(
    path: string,
    versions: number[],
    op: "delete" | "undelete" | "destroy",
  ): [number, Json | undefined] {
    const e = this.kv2.get(path);
    if (!e) return [204, undefined];
    for (const n of versions ?? []) {
      const v = e.versions.get(n);
      if (!v) continue;
      if (op === "delete") v.deleted = v.deleted || this.now();
      if (op === "undelete" && !v.destroyed) v.deleted = 0;
      if (op === "destroy") {
        v.destroyed = true;
        v.data = {};
      }
    }
    return [204, undefined];
  }

  private awsCreds(role: string, caller: Token): [number, Json] {
    if (!this.awsRoles.has(role)) return [400, { errors: [`role "${role}" not found`] }];
    const id = `${AWS_MOUNT}/creds/${role}/${rand(24)}`;
    const data = {
      access_key: `AKIA${rand(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")}`,
      secret_key: rand(40),
      security_token: null,
    };
    this.leases.set(id, {
      id,
      path: `${AWS_MOUNT}/creds/${role}`,
      issuer: caller.id,
      revoked: false,
      data,
    });
    return [200, { ...envelope(data), lease_id: id, lease_duration: 3600, renewable: true }];
  }
}

interface Ctx {
  method: string;
  path: string;
  match: Match;
  query: URLSearchParams;
  body: Json;
  headerToken: string | undefined;
}

function envelope(data: unknown): Json {
  return {
    request_id: randomBytes(8).toString("hex"),
    lease_id: "",
    renewable: false,
    lease_duration: 0,
    data,
    wrap_info: null,
    warnings: null,
    auth: null,
  };
}

/** Vault's policy globs: `+` is one path segment, a trailing `*` is any suffix. */
export function globMatch(glob: string, path: string): boolean {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === "*" && i === glob.length - 1) re += ".*";
    else if (c === "+") re += "[^/]+";
    else re += c.replace(/[.*+?^$()|[\]\\{}]/g, "\\$&");
  }
  return new RegExp(`^${re}$`).test(path);
}
