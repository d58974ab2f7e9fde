// Vault/OpenBao as a secret-set backend.
//   inject: Airlock reads the KV values and hands them to the job like the embedded store.
//   token:  the job gets VAULT_ADDR and a child token with only the set's policies, a TTL of
//           the job's timeout plus a margin and a bounded use count; revoked when the job ends.
// Either way every live version of every value the job could obtain goes to the redactor,
// and dynamic-secret leases taken for the job are revoked at its end.
import type { VaultSetConfig } from "../../config/vault-schema.js";
import { periodMs } from "../../config/vault-schema.js";
import type { RegisteredSecret } from "../../redact/types.js";
import type { GrantContext, SecretBackend, SecretGrant, SecretKeyInfo } from "../types.js";
import { type VaultAuth, VaultClient, type VaultClientOptions } from "./client.js";
import { currentJwt, VaultConfigError, type VaultConnection } from "./connection.js";
import { VaultError } from "./errors.js";
import { type RotationDue, rotationDue } from "./rotation.js";

export interface VaultBackendOptions {
  /** The Vault-backed sets of the trusted configuration, by name. */
  sets: Record<string, VaultSetConfig>;
  connection: VaultConnection;
  /** Timeouts and retries of the HTTP client. */
  client?: Omit<VaultClientOptions, "address" | "token" | "namespace">;
  /** Problems that must reach a human (e.g. a token that could not be revoked). Never values. */
  report?: (message: string) => void;
  /** Attempts to revoke a job's token or lease before giving up and reporting. */
  releaseAttempts?: number;
  releaseBackoffMs?: number;
  now?: () => number;
}

export interface ResolvedKv {
  mount: string;
  kvVersion: 1 | 2;
  /** The secret's path inside the mount (without `data/`). */
  path: string;
  /** The API path the job's policy must allow reading. */
  readPath: string;
}

export interface RotationStatus extends RotationDue {
  set: string;
  every: string;
}

/** A failure to revoke what a grant created: the job's token or a lease outlived the job. */
export class VaultReleaseError extends Error {
  override name = "VaultReleaseError";
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

interface Session {
  client: VaultClient;
  /** 0: no known expiry (a token from the environment). */
  expiresAt: number;
}

interface Pending {
  kind: "token" | "lease";
  id: string;
  /** When a token expires by itself, for the report. */
  expiresAt?: number;
}

export class VaultBackend implements SecretBackend {
  readonly kind = "vault";
  private readonly base: VaultClient;
  private readonly sessions = new Map<string, Promise<Session>>();
  private readonly resolved = new Map<string, Promise<ResolvedKv>>();
  private readonly now: () => number;
  /** In a job's view (auth method id-token): the client logged in with that job's ID token. */
  private jobClient: VaultClient | undefined;

  constructor(private readonly opts: VaultBackendOptions) {
    this.base = new VaultClient({ ...opts.client, address: opts.connection.address });
    this.now = opts.now ?? Date.now;
  }

  get address(): string {
    return this.opts.connection.address;
  }

  setConfig(set: string): VaultSetConfig {
    const cfg = this.opts.sets[set];
    if (!cfg) {
      throw new VaultConfigError(
        `secret set "${set}" is not a Vault set in this configuration: add it under \`secrets:\` with \`backend: vault\``,
      );
    }
    return cfg;
  }

  // ---- SecretBackend ----

  async grant(set: string, ctx: GrantContext): Promise<SecretGrant> {
    const cfg = this.setConfig(set);
    if (cfg.auth.method === "id-token" && !this.jobClient) return this.grantAsJob(set, cfg, ctx);
    const pending: Pending[] = [];
    const grant: SecretGrant = {
      set,
      env: {},
      files: [],
      mask: [],
      versions: {},
      notes: [],
      release: () => this.release(set, ctx, pending),
    };
    try {
      const kv = await this.resolve(set);
      const { versions, current, currentVersion, partial } = await this.liveVersions(
        set,
        kv,
        cfg.mode === "token",
      );
      if (partial) {
        grant.notes.push(
          `only the current version of ${kv.readPath} is masked: Airlock may not read ${kv.mount}/metadata/${kv.path} to list older ones`,
        );
      }
      const mapping = this.mapping(set, cfg, kv, current, grant.notes);

      if (cfg.mode === "inject") {
        for (const [name, key] of mapping) {
          const value = stringValue(current[key]);
          if (cfg.files.includes(name)) grant.files.push({ name, value });
          else grant.env[name] = value;
          grant.versions[name] = currentVersion;
        }
      } else {
        const auth = await this.mintJobToken(set, cfg, ctx);
        pending.push({
          kind: "token",
          id: auth.accessor,
          expiresAt: this.now() + auth.lease_duration * 1000,
        });
        // The token and address are plumbing: env_override must not swap them for Airlock's own.
        grant.overridable = cfg.dynamic.flatMap((d) => Object.keys(d.keys));
        grant.env.VAULT_ADDR = this.address;
        grant.env.VAULT_TOKEN = auth.client_token;
        const ns = this.namespaceOf(cfg);
        if (ns) grant.env.VAULT_NAMESPACE = ns;
        grant.mask.push({ name: "VAULT_TOKEN", value: auth.client_token });
        grant.versions.VAULT_TOKEN = `accessor:${auth.accessor}`;
        for (const [name] of mapping) grant.versions[name] = currentVersion;
        grant.notes.push(
          `Vault token for ${kv.readPath}: policies ${cfg.policies.join(", ")}, ${auth.lease_duration}s, at most ${cfg.num_uses} uses; revoked when the job ends`,
        );
      }
      grant.mask.push(...maskOf(mapping, versions, cfg));

      for (const d of cfg.dynamic) {
        const r = await this.withLogin(set, (c) => c.readDynamic(d.path));
        if (r.lease_id) pending.push({ kind: "lease", id: r.lease_id });
        for (const [name, field] of Object.entries(d.keys)) {
          const raw = r.data?.[field];
          if (raw === undefined || raw === null) {
            throw new VaultConfigError(
              `${d.path} answered without the field "${field}" mapped to ${name}; it has: ${Object.keys(r.data ?? {}).join(", ") || "no fields"}`,
            );
          }
          const value = stringValue(raw);
          if (cfg.files.includes(name)) grant.files.push({ name, value });
          else grant.env[name] = value;
          grant.mask.push({ name, value });
        }
        if (r.lease_id) grant.versions[d.path] = `lease:${r.lease_id}`;
        if (r.lease_duration && r.lease_duration * 1000 < ctx.timeoutMs) {
          grant.notes.push(
            `the lease for ${d.path} lasts ${r.lease_duration}s, less than the job's timeout: the credentials may expire before the job ends`,
          );
        }
      }
      return grant;
    } catch (e) {
      // Never leave a token or a lease behind for a job that will not run.
      if (pending.length) {
        try {
          await this.release(set, ctx, pending);
        } catch (releaseErr) {
          if (e instanceof Error)
            e.message += `; and cleaning up failed: ${(releaseErr as Error).message}`;
        }
      }
      throw e;
    }
  }

  async list(set: string): Promise<SecretKeyInfo[]> {
    const cfg = this.setConfig(set);
    const kv = await this.resolve(set);
    const notes: string[] = [];
    if (kv.kvVersion === 1) {
      const data = (await this.withLogin(set, (c) => c.kv1Read(kv.mount, kv.path))) ?? {};
      return [...this.mapping(set, cfg, kv, data, notes)].map(([name]) => ({
        key: name,
        version: 1,
        versions: [1],
        updatedAt: 0,
        file: cfg.files.includes(name),
      }));
    }
    const meta = await this.withLogin(set, (c) => c.kv2ReadMetadata(kv.mount, kv.path));
    const cur = meta ? await this.withLogin(set, (c) => c.kv2Read(kv.mount, kv.path)) : null;
    if (!meta || !cur) throw notFound(kv);
    const live = Object.entries(meta.versions)
      .filter(([, v]) => !v.destroyed && !v.deletion_time)
      .map(([n]) => Number(n))
      .sort((a, b) => a - b);
    const updatedAt = Date.parse(cur.metadata.created_time) || 0;
    return [...this.mapping(set, cfg, kv, cur.data, notes)].map(([name]) => ({
      key: name,
      version: meta.current_version,
      versions: live,
      updatedAt,
      file: cfg.files.includes(name),
    }));
  }

  // ---- rotation ----

  /**
   * Writes a new version with `key` (a variable name of the set) set to `value`; the other
   * keys keep their values. KV v2 writes use check-and-set, so a concurrent writer is never
   * overwritten silently.
   */
  async rotate(set: string, key: string, value: string): Promise<{ version: number | null }> {
    const cfg = this.setConfig(set);
    const kv = await this.resolve(set);
    const vaultKey = cfg.keys ? cfg.keys[key] : key;
    if (!vaultKey) {
      throw new VaultConfigError(
        `"${key}" is not a variable of set "${set}": it maps ${Object.keys(cfg.keys ?? {}).join(", ")}`,
      );
    }
    this.base.markSensitive(value);
    if (kv.kvVersion === 1) {
      const data = await this.withLogin(set, (c) => c.kv1Read(kv.mount, kv.path));
      if (!data) throw notFound(kv);
      assertHasKey(set, kv, data, vaultKey);
      await this.withLogin(set, (c) =>
        c.kv1Write(kv.mount, kv.path, { ...data, [vaultKey]: value }),
      );
      return { version: null };
    }
    for (let attempt = 0; ; attempt++) {
      const meta = await this.withLogin(set, (c) => c.kv2ReadMetadata(kv.mount, kv.path));
      const cur = meta ? await this.withLogin(set, (c) => c.kv2Read(kv.mount, kv.path)) : null;
      if (!cur) throw notFound(kv);
      assertHasKey(set, kv, cur.data, vaultKey);
      const cas = meta?.current_version ?? 0;
      try {
        const written = await this.withLogin(set, (c) =>
          c.kv2Write(kv.mount, kv.path, { ...(cur?.data ?? {}), [vaultKey]: value }, cas),
        );
        return { version: written.version };
      } catch (e) {
        const casLost =
          e instanceof VaultError && e.status === 400 && /check-and-set/i.test(e.message);
        if (!casLost || attempt >= 2) throw e;
      }
    }
  }

  /** The reminder for a set with `rotate_every`, or null when it has none. */
  async rotationStatus(set: string): Promise<RotationStatus | null> {
    const cfg = this.setConfig(set);
    if (!cfg.rotate_every) return null;
    const kv = await this.resolve(set);
    if (kv.kvVersion === 1) return null; // KV v1 keeps no write times
    const cur = await this.withLogin(set, (c) => c.kv2Read(kv.mount, kv.path));
    if (!cur) throw notFound(kv);
    const updatedAt = Date.parse(cur.metadata.created_time) || 0;
    return {
      set,
      every: cfg.rotate_every,
      ...rotationDue(updatedAt, cfg.rotate_every, this.now()),
    };
  }

  // ---- Vault access ----

  /**
   * auth method id-token: Airlock logs in with the job's own ID token (Vault checks its claims
   * against the role), grants through that login, and revokes the login when the job ends.
   */
  private async grantAsJob(
    set: string,
    cfg: VaultSetConfig,
    ctx: GrantContext,
  ): Promise<SecretGrant> {
    if (!ctx.idToken) {
      throw new VaultConfigError(
        `set "${set}" logs in to Vault with the job's ID token, which needs the issuer: set AIRLOCK_PUBLIC_URL (see oidc.md)`,
      );
    }
    const ns = this.namespaceOf(cfg);
    const anon = new VaultClient({
      ...this.opts.client,
      address: this.opts.connection.address,
      namespace: ns,
    });
    const jwt = await ctx.idToken(cfg.auth.audience);
    const auth = await anon.loginJwt(cfg.auth.role ?? "", jwt, cfg.auth.mount ?? "jwt");
    const view = Object.create(this) as VaultBackend;
    view.jobClient = anon.withToken(auth.client_token);
    const logout = async () => {
      try {
        await view.jobClient!.revokeSelf();
      } catch (e) {
        const message = `could not revoke the Vault login of job ${ctx.jobId} (accessor ${auth.accessor}): ${(e as Error).message}; it expires by itself in ${auth.lease_duration}s`;
        this.opts.report?.(message);
        throw new VaultReleaseError(message);
      }
    };
    let grant: SecretGrant;
    try {
      grant = await view.grant(set, ctx);
    } catch (e) {
      await logout().catch(() => {});
      throw e;
    }
    grant.notes.push(
      `logged in to Vault as role ${cfg.auth.role} with the job's ID token (aud ${cfg.auth.audience}); revoked when the job ends`,
    );
    const release = grant.release;
    return {
      ...grant,
      release: async () => {
        try {
          await release();
        } finally {
          await logout();
        }
      },
    };
  }

  /** Airlock's own client for a set, logged in with the set's auth method. */
  async clientFor(set: string): Promise<VaultClient> {
    if (this.jobClient) return this.jobClient;
    const cfg = this.setConfig(set);
    const key = this.sessionKey(cfg);
    let s = this.sessions.get(key);
    if (s) {
      const session = await s.catch(() => undefined);
      if (!session || (session.expiresAt && session.expiresAt - this.now() < 60_000)) {
        this.sessions.delete(key);
        s = undefined;
      }
    }
    if (!s) {
      s = this.login(cfg);
      this.sessions.set(key, s);
      s.catch(() => this.sessions.delete(key));
    }
    return (await s).client;
  }

  /** Runs `fn` with Airlock's client; a rejected AppRole/JWT login is renewed once. */
  async withLogin<T>(set: string, fn: (c: VaultClient) => Promise<T>): Promise<T> {
    const client = await this.clientFor(set);
    try {
      return await fn(client);
    } catch (e) {
      const cfg = this.setConfig(set);
      const renewable = cfg.auth.method === "approle" || cfg.auth.method === "jwt";
      if (!(e instanceof VaultError && e.status === 403) || !renewable || this.jobClient) throw e;
      this.sessions.delete(this.sessionKey(cfg));
      return fn(await this.clientFor(set));
    }
  }

  /** Where a set's secret lives: mount and KV version, detected unless configured. */
  resolve(set: string): Promise<ResolvedKv> {
    let r = this.resolved.get(set);
    if (!r) {
      r = this.detect(set);
      this.resolved.set(set, r);
      r.catch(() => this.resolved.delete(set));
    }
    return r;
  }

  private async detect(set: string): Promise<ResolvedKv> {
    const cfg = this.setConfig(set);
    let mount = cfg.mount?.replace(/\/+$/, "");
    let kvVersion = cfg.kv_version;
    if (!mount || !kvVersion) {
      let info: Awaited<ReturnType<VaultClient["mountInfo"]>>;
      try {
        info = await this.withLogin(set, (c) => c.mountInfo(cfg.path));
      } catch (e) {
        if (e instanceof VaultError && e.kind === "http") {
          e.message += `; to skip detection, set \`mount:\` and \`kv_version:\` in the \`vault:\` block of set "${set}"`;
        }
        throw e;
      }
      if (info.kvVersion === undefined) {
        throw new VaultConfigError(
          `${cfg.path} is on a "${info.type}" mount, not a KV mount: point \`path\` at a KV secret (dynamic paths go under \`dynamic:\`)`,
        );
      }
      mount ??= info.mount;
      kvVersion ??= info.kvVersion;
    }
    if (cfg.path !== mount && !cfg.path.startsWith(`${mount}/`)) {
      throw new VaultConfigError(
        `the path ${cfg.path} of set "${set}" is not under its mount ${mount}/`,
      );
    }
    let path = cfg.path.slice(mount.length + 1);
    if (kvVersion === 2 && path.startsWith("data/")) path = path.slice("data/".length);
    if (!path) throw new VaultConfigError(`the path of set "${set}" names a mount, not a secret`);
    const readPath = kvVersion === 2 ? `${mount}/data/${path}` : `${mount}/${path}`;
    return { mount, kvVersion, path, readPath };
  }

  private namespaceOf(cfg: VaultSetConfig): string | undefined {
    return cfg.namespace ?? this.opts.connection.namespace;
  }

  private sessionKey(cfg: VaultSetConfig): string {
    return JSON.stringify([cfg.auth.method, cfg.auth.mount, cfg.auth.role, this.namespaceOf(cfg)]);
  }

  private async login(cfg: VaultSetConfig): Promise<Session> {
    const c = this.opts.connection;
    const ns = this.namespaceOf(cfg);
    const anon = new VaultClient({ ...this.opts.client, address: c.address, namespace: ns });
    switch (cfg.auth.method) {
      case "token": {
        if (!c.token) {
          throw new VaultConfigError(
            "Vault login by token needs VAULT_TOKEN in Airlock's environment (or set `auth: { method: approle }` or `jwt`)",
          );
        }
        return { client: anon.withToken(c.token), expiresAt: 0 };
      }
      case "approle": {
        if (!c.roleId || !c.secretId) {
          throw new VaultConfigError(
            "AppRole login needs AIRLOCK_VAULT_ROLE_ID and AIRLOCK_VAULT_SECRET_ID in Airlock's environment",
          );
        }
        const auth = await anon.loginAppRole(c.roleId, c.secretId, cfg.auth.mount ?? "approle");
        return this.sessionOf(anon, auth);
      }
      case "id-token":
        throw new VaultConfigError(
          "this set logs in to Vault with each job's ID token (auth method id-token): Airlock holds no Vault credential to read it outside a job; use `vault` itself, or a set with another auth method",
        );
      case "jwt": {
        const auth = await anon.loginJwt(
          cfg.auth.role ?? "",
          currentJwt(c),
          cfg.auth.mount ?? "jwt",
        );
        return this.sessionOf(anon, auth);
      }
    }
  }

  private sessionOf(anon: VaultClient, auth: VaultAuth): Session {
    return {
      client: anon.withToken(auth.client_token),
      expiresAt: auth.lease_duration ? this.now() + auth.lease_duration * 1000 : 0,
    };
  }

  /**
   * The current values and every live version's values. Token mode fails closed when the
   * versions cannot be listed: the job's token could read versions the redactor never saw.
   */
  private async liveVersions(
    set: string,
    kv: ResolvedKv,
    mustListVersions: boolean,
  ): Promise<{
    current: Record<string, unknown>;
    currentVersion: number;
    versions: Record<string, unknown>[];
    /** Older versions could not be listed, so only the current one is masked. */
    partial?: boolean;
  }> {
    if (kv.kvVersion === 1) {
      const data = await this.withLogin(set, (c) => c.kv1Read(kv.mount, kv.path));
      if (!data) throw notFound(kv);
      return { current: data, currentVersion: 1, versions: [data] };
    }
    const cur = await this.withLogin(set, (c) => c.kv2Read(kv.mount, kv.path));
    if (!cur) throw notFound(kv);
    let meta: Awaited<ReturnType<VaultClient["kv2ReadMetadata"]>>;
    try {
      meta = await this.withLogin(set, (c) => c.kv2ReadMetadata(kv.mount, kv.path));
    } catch (e) {
      if (!(e instanceof VaultError && e.status === 403) || mustListVersions) {
        if (e instanceof VaultError && e.status === 403) {
          e.message += `; token mode needs Airlock to read ${kv.mount}/metadata/${kv.path} so that every version the job's token can read is masked`;
        }
        throw e;
      }
      meta = null;
    }
    const versions: Record<string, unknown>[] = [cur.data];
    for (const [n, v] of Object.entries(meta?.versions ?? {})) {
      const num = Number(n);
      if (num === cur.metadata.version || v.destroyed || v.deletion_time) continue;
      const old = await this.withLogin(set, (c) => c.kv2Read(kv.mount, kv.path, num));
      if (old) versions.push(old.data);
    }
    return { current: cur.data, currentVersion: cur.metadata.version, versions, partial: !meta };
  }

  /** Variable name -> key in the secret. */
  private mapping(
    set: string,
    cfg: VaultSetConfig,
    kv: ResolvedKv,
    data: Record<string, unknown>,
    notes: string[],
  ): Map<string, string> {
    const m = new Map<string, string>();
    if (cfg.keys) {
      const missing = Object.entries(cfg.keys).filter(([, k]) => !(k in data));
      if (missing.length) {
        throw new VaultConfigError(
          `set "${set}" maps ${missing.map(([n, k]) => `${n} to "${k}"`).join(", ")}, but ${kv.readPath} has no such key; it has: ${Object.keys(data).join(", ") || "no keys"}`,
        );
      }
      for (const [name, key] of Object.entries(cfg.keys)) m.set(name, key);
      return m;
    }
    for (const key of Object.keys(data)) {
      if (ENV_NAME.test(key)) m.set(key, key);
      else
        notes.push(
          `key "${key}" of ${kv.readPath} is not a valid variable name and was not passed; map it under \`keys:\``,
        );
    }
    return m;
  }

  private async mintJobToken(
    set: string,
    cfg: VaultSetConfig,
    ctx: GrantContext,
  ): Promise<VaultAuth> {
    const ttlSec = Math.ceil((ctx.timeoutMs + periodMs(cfg.ttl_margin)) / 1000);
    return this.withLogin(set, (c) =>
      c.createToken({
        policies: cfg.policies,
        ttl: `${ttlSec}s`,
        explicitMaxTtl: `${ttlSec}s`,
        numUses: cfg.num_uses,
        noDefaultPolicy: !cfg.default_policy,
        renewable: false,
        displayName: `airlock-${ctx.jobId}`.slice(0, 100),
        meta: { run: ctx.runId, job: ctx.jobId, set },
      }),
    );
  }

  /**
   * Revokes every token and lease still pending, each retried with backoff. What cannot be
   * revoked is reported and thrown, never dropped; a later call retries only what is left.
   */
  private async release(set: string, ctx: GrantContext, pending: Pending[]): Promise<void> {
    const attempts = this.opts.releaseAttempts ?? 4;
    const backoff = this.opts.releaseBackoffMs ?? 250;
    const problems: string[] = [];
    // Leases first: they were taken with Airlock's token, not the job's.
    const order = [...pending].sort((a, b) =>
      a.kind === b.kind ? 0 : a.kind === "lease" ? -1 : 1,
    );
    for (const item of order) {
      let last: unknown;
      for (let i = 0; i < attempts; i++) {
        try {
          await this.withLogin(set, (c) =>
            item.kind === "token" ? c.revokeAccessor(item.id) : c.revokeLease(item.id),
          );
          last = undefined;
          break;
        } catch (e) {
          last = e;
          // Already gone (expired, used up, or revoked with its parent): nothing left to do.
          if (
            e instanceof VaultError &&
            e.status === 400 &&
            /invalid (accessor|lease)/i.test(e.message)
          ) {
            last = undefined;
            break;
          }
          if (e instanceof VaultConfigError) break;
          if (i < attempts - 1) await new Promise((r) => setTimeout(r, backoff * 2 ** i));
        }
      }
      if (last === undefined) {
        pending.splice(pending.indexOf(item), 1);
        continue;
      }
      const why = last instanceof Error ? last.message : String(last);
      problems.push(
        item.kind === "token"
          ? `the Vault token of job ${ctx.jobId} (accessor ${item.id}) after ${attempts} attempts: ${why}; it expires by itself at ${new Date(item.expiresAt ?? 0).toISOString()}; revoke it now with \`vault token revoke -accessor ${item.id}\``
          : `the Vault lease ${item.id} of job ${ctx.jobId} after ${attempts} attempts: ${why}; revoke it with \`vault lease revoke ${item.id}\``,
      );
    }
    if (problems.length) {
      const message = `could not revoke ${problems.join("; and ")}`;
      this.opts.report?.(message);
      throw new VaultReleaseError(message);
    }
  }
}

export function createVaultBackend(opts: VaultBackendOptions): VaultBackend {
  return new VaultBackend(opts);
}

function stringValue(v: unknown): string {
  if (typeof v === "string") return v;
  if (v === undefined || v === null) return "";
  return typeof v === "object" ? JSON.stringify(v) : String(v);
}

function maskOf(
  mapping: Map<string, string>,
  versions: Record<string, unknown>[],
  cfg: VaultSetConfig,
): RegisteredSecret[] {
  const out: RegisteredSecret[] = [];
  const seen = new Set<string>();
  const nameOf = new Map([...mapping].map(([name, key]) => [key, name]));
  for (const data of versions) {
    // In token mode the job can read every key, mapped or not.
    const keys = cfg.mode === "token" ? Object.keys(data) : [...mapping.values()];
    for (const key of keys) {
      const value = stringValue(data[key]);
      if (!value || seen.has(`${key}\0${value}`)) continue;
      seen.add(`${key}\0${value}`);
      out.push({ name: nameOf.get(key) ?? key, value });
    }
  }
  return out;
}

/** Rotation replaces a value; adding a key is a change to the secret's shape, made in Vault. */
function assertHasKey(
  set: string,
  kv: ResolvedKv,
  data: Record<string, unknown>,
  key: string,
): void {
  if (!(key in data)) {
    throw new VaultConfigError(
      `set "${set}" has no key "${key}" at ${kv.readPath} (it has: ${Object.keys(data).join(", ")}); add new keys in Vault itself`,
    );
  }
}

function notFound(kv: ResolvedKv): VaultError {
  return new VaultError({
    kind: "http",
    status: 404,
    method: "GET",
    path: kv.readPath,
    errors: [],
    warnings: [],
    hint: "nothing at this path (or its latest version is deleted): check `path` in the set's `vault:` block",
    attempts: 1,
  });
}
