// A Vault test double: a real HTTP server on 127.0.0.1 with an in-memory Vault behind it
// (KV v1 and v2 with versions, ACL policies by path glob, tokens with TTL/num_uses/children,
// AppRole and JWT login, dynamic AWS credentials with leases, response wrapping, sealing).
// Every request is first checked against Vault's OpenAPI description (oracle.ts); a request
// the description does not contain is recorded in `violations` and answered with an error,
// and tests assert that `violations` stays empty. Its tokens and policies (double-tokens.ts), KV
// version 2 (double-kv.ts) and JWT login checks (double-jwt.ts) live beside it.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { JWTPayload } from "jose";
import { checkJwtLogin } from "./double-jwt.js";
import { type Answer, envelope, type Json, KvV2, type KvVersion } from "./double-kv.js";
import { type MintOptions, parseVaultDuration, rand, type Token, Tokens } from "./double-tokens.js";
import { type AuthMount, type Match, type SecretMount, VaultOracle } from "./oracle.js";

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

export class VaultDouble {
  readonly violations: string[] = [];
  readonly requests: RecordedRequest[] = [];
  readonly leases = new Map<string, Lease>();
  readonly rootToken: string;
  sealed = false;
  /** When set, authenticated requests must carry this X-Vault-Namespace. */
  namespace: string | undefined;
  private clockOffset = 0;
  private readonly tokens = new Tokens(
    () => this.now(),
    (t) => {
      for (const l of this.leases.values()) if (l.issuer === t.id) l.revoked = true;
    },
  );
  private readonly kv2 = new KvV2(() => this.now());
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
    this.tokens.policies.set(name, rules);
  }

  mintToken(o: MintOptions): { token: string; accessor: string } {
    const t = this.tokens.mint(o);
    return { token: t.id, accessor: t.accessor };
  }

  /** Whether a token would be accepted now (for tests; does not use it up). */
  tokenValid(token: string): boolean {
    return this.tokens.live(token) !== undefined;
  }

  tokenInfo(token: string): Token | undefined {
    return this.tokens.get(token);
  }

  tokenByAccessor(accessor: string): Token | undefined {
    return this.tokens.byAccessor(accessor);
  }

  /** Tokens whose metadata includes every given pair (e.g. the run and job Airlock named). */
  tokensWithMeta(meta: Record<string, string>): Token[] {
    return this.tokens.all().filter((t) => Object.entries(meta).every(([k, v]) => t.meta[k] === v));
  }

  capabilities(t: Token, path: string): string[] {
    return this.tokens.capabilities(t, path);
  }

  kvPut(path: string, data: Json): number {
    return this.kv2.write(path, data);
  }
  kv1Put(path: string, data: Json): void {
    this.kv1.set(path, data);
  }
  kvVersions(path: string): Map<number, KvVersion> | undefined {
    return this.kv2.versions(path);
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
      caller = ctx.headerToken ? this.tokens.live(ctx.headerToken) : undefined;
      if (!caller) return send(403, { errors: ["permission denied"] });
      const need = this.capabilityFor(ctx);
      if (!OWN_ACL.has(match.operationId) && !this.tokens.allowed(caller, path, need)) {
        this.tokens.use(caller);
        return send(403, { errors: ["1 error occurred:\n\t* permission denied\n\n"] });
      }
      this.tokens.use(caller);
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

  private async dispatch(ctx: Ctx, caller: Token | undefined): Promise<Answer> {
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
        return this.kv2.read(p.path!, ctx.query.get("version"));
      case "kv-v2-write":
        return this.kv2.writeApi(p.path!, b);
      case "kv-v2-read-metadata":
        return this.kv2.metadata(p.path!);
      case "kv-v2-list":
        return this.kv2.list(p.path!);
      case "kv-v2-delete":
        return this.kv2.mark(p.path!, [this.kv2.current(p.path!)], "delete");
      case "kv-v2-delete-versions":
        return this.kv2.mark(p.path!, b.versions as number[], "delete");
      case "kv-v2-undelete-versions":
        return this.kv2.mark(p.path!, b.versions as number[], "undelete");
      case "kv-v2-destroy-versions":
        return this.kv2.mark(p.path!, b.versions as number[], "destroy");
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
        return [200, envelope(this.tokens.lookupBody(caller!))];
      case "token-renew-self":
        return this.renew(caller!, b.increment);
      case "token-renew": {
        const t = this.tokens.live(String(b.token ?? ""));
        return t ? this.renew(t, b.increment) : [400, { errors: ["token not found"] }];
      }
      case "token-revoke": {
        const t = this.tokens.get(String(b.token ?? ""));
        if (t) this.tokens.revoke(t);
        return [204, undefined];
      }
      case "token-revoke-accessor": {
        const t = this.tokenByAccessor(String(b.accessor ?? ""));
        if (!t || t.revoked)
          return [400, { errors: ["1 error occurred:\n\t* invalid accessor\n\n"] }];
        this.tokens.revoke(t);
        return [204, undefined];
      }
      case "token-revoke-self":
        this.tokens.revoke(caller!);
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
        const rules = this.tokens.policies.get(p.name!);
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

  private async jwtLogin(roleName: string, jwt: string): Promise<[number, Json]> {
    const role = this.boundJwtRoles.get(roleName);
    if (!role) return [400, { errors: [`role "${roleName}" could not be found`] }];
    const checked = await checkJwtLogin(this.jwtConfig, role, jwt, this.now());
    if ("error" in checked) return [400, { errors: [checked.error] }];
    this.jwtLogins.push({ role: roleName, claims: checked.claims });
    const t = this.tokens.mint({
      policies: ["default", ...((role.token_policies as string[] | undefined) ?? [])],
      ttlSec: parseVaultDuration(role.token_ttl) || 3600,
      meta: { role: roleName },
    });
    return [200, { ...envelope(null), auth: this.tokens.authBody(t) }];
  }

  // ---- tokens ----

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

  private loginBody(policies: string[], meta: Record<string, string>): Json {
    const t = this.tokens.mint({ policies: ["default", ...policies], ttlSec: 3600, meta });
    return { ...envelope(null), auth: this.tokens.authBody(t) };
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
    const t = this.tokens.mint({
      policies,
      ttlSec,
      numUses: typeof b.num_uses === "number" ? b.num_uses : 0,
      meta: (b.meta as Record<string, string> | undefined) ?? {},
      parent: b.no_parent === true ? undefined : caller.id,
      renewable: b.renewable !== false,
      displayName: `token-${String(b.display_name ?? "")}`,
    });
    return [200, { ...envelope(null), auth: this.tokens.authBody(t) }];
  }

  private renew(t: Token, increment: unknown): [number, Json] {
    if (!t.renewable) return [400, { errors: ["lease is not renewable"] }];
    const inc = parseVaultDuration(increment) || t.creationTtl;
    t.expiresAt = this.now() + inc * 1000;
    return [200, { ...envelope(null), auth: this.tokens.authBody(t) }];
  }

  private unwrap(ctx: Ctx): [number, Json | undefined] {
    const id = typeof ctx.body.token === "string" ? ctx.body.token : ctx.headerToken;
    if (
      typeof ctx.body.token === "string" &&
      !(ctx.headerToken && this.tokens.live(ctx.headerToken))
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
      this.tokens
        .rulesOf(caller)
        .some((rules) =>
          Object.entries(rules).some(
            ([glob, caps]) =>
              glob.startsWith(`${m.path}/`) && !caps.includes("deny") && caps.length,
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
