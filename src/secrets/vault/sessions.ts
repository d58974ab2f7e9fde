// Airlock's own Vault logins: one per auth method, mount, role and namespace, shared by the sets
// that use the same, and logged in anew shortly before they expire. Apart from the backend so
// that how Airlock logs in reads in one place, not between granting, listing and rotating.
import type { VaultSetConfig } from "../../config/vault-schema.js";
import type { VaultAuth } from "./answers.js";
import { VaultClient } from "./client.js";
import { currentJwt, VaultConfigError, type VaultConnection } from "./connection.js";
import type { VaultClientOptions } from "./transport.js";

interface Session {
  client: VaultClient;
  /** 0: no known expiry (a token from the environment). */
  expiresAt: number;
}

export class VaultSessions {
  private readonly sessions = new Map<string, Promise<Session>>();

  constructor(
    private readonly connection: VaultConnection,
    /** Timeouts and retries of the HTTP client. */
    private readonly client:
      | Omit<VaultClientOptions, "address" | "token" | "namespace">
      | undefined,
    private readonly now: () => number,
  ) {}

  namespaceOf(cfg: VaultSetConfig): string | undefined {
    return cfg.namespace ?? this.connection.namespace;
  }

  /** A client without a token in the set's namespace: where every login starts. */
  anonymous(cfg: VaultSetConfig): VaultClient {
    return new VaultClient({
      ...this.client,
      address: this.connection.address,
      namespace: this.namespaceOf(cfg),
    });
  }

  /** Airlock's client for a set's auth method, logged in (again, when about to expire). */
  async clientFor(cfg: VaultSetConfig): Promise<VaultClient> {
    const key = this.keyOf(cfg);
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

  /** Forgets the login a set uses (Vault refused it), so that the next use logs in anew. */
  forget(cfg: VaultSetConfig): void {
    this.sessions.delete(this.keyOf(cfg));
  }

  private keyOf(cfg: VaultSetConfig): string {
    return JSON.stringify([cfg.auth.method, cfg.auth.mount, cfg.auth.role, this.namespaceOf(cfg)]);
  }

  private async login(cfg: VaultSetConfig): Promise<Session> {
    const c = this.connection;
    const anon = this.anonymous(cfg);
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
}
