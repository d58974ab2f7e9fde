// Vault/OpenBao as a secret-set backend.
//   inject: Airlock reads the KV values and hands them to the job like the embedded store.
//   token:  the job gets VAULT_ADDR and a child token with only the set's policies, a TTL of
//           the job's timeout plus a margin and a bounded use count; revoked when the job ends.
// Either way every live version of every value the job could obtain goes to the redactor,
// and dynamic-secret leases taken for the job are revoked at its end. Airlock's logins are in
// sessions.ts, reading and writing the KV secret in kv.ts, the values and masks in values.ts,
// and revoking what a grant created in release.ts.
import type { VaultSetConfig } from "../../config/vault-schema.js";
import { periodMs } from "../../config/vault-schema.js";
import type { GrantContext, SecretBackend, SecretGrant, SecretKeyInfo } from "../types.js";
import type { VaultAuth } from "./answers.js";
import { VaultClient } from "./client.js";
import { VaultConfigError, type VaultConnection } from "./connection.js";
import { VaultError } from "./errors.js";
import {
  detectKv,
  liveVersions,
  notFound,
  type ResolvedKv,
  type WithLogin,
  writeKey,
} from "./kv.js";
import { type Pending, releasePending, VaultReleaseError } from "./release.js";
import { type RotationDue, rotationDue } from "./rotation.js";
import { VaultSessions } from "./sessions.js";
import type { VaultClientOptions } from "./transport.js";
import { keyMapping, maskOf, stringValue } from "./values.js";

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

export interface RotationStatus extends RotationDue {
  set: string;
  every: string;
}

export class VaultBackend implements SecretBackend {
  readonly kind = "vault";
  private readonly base: VaultClient;
  private readonly sessions: VaultSessions;
  private readonly resolved = new Map<string, Promise<ResolvedKv>>();
  private readonly now: () => number;
  /** In a job's view (auth method id-token): the client logged in with that job's ID token. */
  private jobClient: VaultClient | undefined;

  constructor(private readonly opts: VaultBackendOptions) {
    this.base = new VaultClient({ ...opts.client, address: opts.connection.address });
    this.now = opts.now ?? Date.now;
    this.sessions = new VaultSessions(opts.connection, opts.client, this.now);
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
      const { versions, current, currentVersion, partial } = await liveVersions(
        kv,
        this.loginFor(set),
        cfg.mode === "token",
      );
      if (partial) {
        grant.notes.push(
          `only the current version of ${kv.readPath} is masked: Airlock may not read ${kv.mount}/metadata/${kv.path} to list older ones`,
        );
      }
      const mapping = keyMapping(set, cfg, kv, current, grant.notes);

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
        const ns = this.sessions.namespaceOf(cfg);
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
      return [...keyMapping(set, cfg, kv, data, notes)].map(([name]) => ({
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
    return [...keyMapping(set, cfg, kv, cur.data, notes)].map(([name]) => ({
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
    return writeKey(set, kv, vaultKey, value, this.loginFor(set));
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
    const anon = this.sessions.anonymous(cfg);
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
    return this.sessions.clientFor(this.setConfig(set));
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
      this.sessions.forget(cfg);
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
    return detectKv(set, this.setConfig(set), this.loginFor(set));
  }

  private loginFor(set: string): WithLogin {
    return (fn) => this.withLogin(set, fn);
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

  private release(set: string, ctx: GrantContext, pending: Pending[]): Promise<void> {
    return releasePending(ctx, pending, this.loginFor(set), {
      attempts: this.opts.releaseAttempts,
      backoffMs: this.opts.releaseBackoffMs,
      report: this.opts.report,
    });
  }
}

export function createVaultBackend(opts: VaultBackendOptions): VaultBackend {
  return new VaultBackend(opts);
}
