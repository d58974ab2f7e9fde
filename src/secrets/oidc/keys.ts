// The OIDC issuer's signing keys: generated here, private parts sealed in the data directory's
// database like secret values, public parts published as a JWKS.
//
// A key's life: a rotation creates it and publishes it at once; it starts signing at its
// activation time (later than its creation when the rotation leaves verifiers time to fetch
// it); when the next key activates, it stops signing but stays published until every token it
// signed has expired (plus a clock-skew leeway); then it is deleted, private part included.
import { createPrivateKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import type { JWK } from "jose";
import type { AuditEntry, OidcKeyRow, Store } from "../../store/types.js";
import type { EmbeddedStore } from "../embedded.js";
import { SecretsError } from "../errors.js";

export const OIDC_ALGS = ["RS256", "ES256"] as const;
export type OidcAlg = (typeof OIDC_ALGS)[number];
export const DEFAULT_ALG: OidcAlg = "RS256";
/** How long a key stays published after its last token expired: verifiers' clocks may lag. */
export const PUBLISH_LEEWAY_MS = 5 * 60_000;

export type KeyState = "next" | "signing" | "retiring" | "expired";

export interface KeyStatus {
  kid: string;
  alg: OidcAlg;
  state: KeyState;
  createdAt: number;
  activatesAt: number;
  /** The latest expiry of a token it signed (0: none yet). */
  signedUntil: number;
  /** For a retiring key: when it leaves the JWKS. */
  publishedUntil?: number;
}

export interface Signer {
  kid: string;
  alg: OidcAlg;
  key: KeyObject;
}

export interface OidcKeyStoreOptions {
  /** Where the key rows and their audit entries live. */
  db: Store;
  /** Seals and opens the private keys (the embedded store's data key); absent: publish only. */
  store?: Pick<EmbeddedStore, "sealOidcKey" | "openOidcKey">;
  now?: () => number;
}

export function isOidcAlg(s: string): s is OidcAlg {
  return (OIDC_ALGS as readonly string[]).includes(s);
}

function generate(alg: OidcAlg): { privateKey: KeyObject; publicJwk: JWK } {
  const pair =
    alg === "RS256"
      ? generateKeyPairSync("rsa", { modulusLength: 2048 })
      : generateKeyPairSync("ec", { namedCurve: "P-256" });
  return { privateKey: pair.privateKey, publicJwk: pair.publicKey.export({ format: "jwk" }) };
}

export class OidcKeyStore {
  private readonly now: () => number;
  /** Opened private keys by kid: unsealing costs a database read and a decryption. */
  private readonly opened = new Map<string, KeyObject>();

  constructor(private readonly o: OidcKeyStoreOptions) {
    this.now = o.now ?? Date.now;
  }

  /** Every stored key with its state now, oldest activation first. */
  async status(): Promise<KeyStatus[]> {
    return statesOf(await this.o.db.oidcKeys.all(), this.now());
  }

  /** The public keys verifiers may need now: the signing key, the next one, retiring ones. */
  async jwks(): Promise<{ keys: JWK[] }> {
    const rows = await this.o.db.oidcKeys.all();
    const live = new Set(
      statesOf(rows, this.now())
        .filter((k) => k.state !== "expired")
        .map((k) => k.kid),
    );
    return {
      keys: rows
        .filter((r) => live.has(r.kid))
        .map((r) => ({ ...(JSON.parse(r.public_jwk) as JWK), kid: r.kid, alg: r.alg, use: "sig" })),
    };
  }

  /** The key that signs now; the first one (RS256) is created when there is none. */
  async signer(): Promise<Signer> {
    const signing = async () =>
      statesOf(await this.o.db.oidcKeys.all(), this.now()).find((k) => k.state === "signing");
    let current = await signing();
    if (!current) {
      await this.create({ alg: DEFAULT_ALG, activateInMs: 0, actor: "airlock", onlyIfNone: true });
      current = await signing();
    }
    if (!current) throw new SecretsError("the OIDC issuer has no signing key");
    let key = this.opened.get(current.kid);
    if (!key) {
      const row = (await this.o.db.oidcKeys.all()).find((r) => r.kid === current.kid)!;
      const pkcs8 = await this.sealer().openOidcKey(row);
      key = createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" });
      this.opened.set(current.kid, key);
    }
    return { kid: current.kid, alg: current.alg, key };
  }

  /**
   * Records that `kid` signed a token expiring at `expMs`, so it stays published until then,
   * with the token's audit entry, in one transaction.
   */
  async noteSigned(kid: string, expMs: number, entry: AuditEntry): Promise<void> {
    await this.o.db.transaction(async (tx) => {
      await tx.oidcKeys.noteSigned(kid, expMs);
      await tx.audit.record(entry);
    });
  }

  /**
   * A new key, published at once and signing after `activateInMs` (0: at once). The key it
   * replaces signs until then and stays published until its tokens have expired.
   */
  async rotate(o: { alg?: OidcAlg; activateInMs: number; actor: string }): Promise<KeyStatus> {
    return this.create({ alg: o.alg ?? DEFAULT_ALG, activateInMs: o.activateInMs, actor: o.actor });
  }

  /**
   * Withdraws a key at once (it was exposed): deleted with its private part, so tokens it signed
   * stop verifying as soon as verifiers refetch the JWKS. A revoked signing key is replaced.
   */
  async revoke(kid: string, actor: string): Promise<{ replacement?: KeyStatus }> {
    const states = statesOf(await this.o.db.oidcKeys.all(), this.now());
    const target = states.find((k) => k.kid === kid);
    if (!target) {
      throw new SecretsError(
        `no OIDC key ${kid}; the keys are: ${states.map((k) => k.kid).join(", ") || "none"}`,
      );
    }
    let replacement: KeyStatus | undefined;
    if (target.state === "signing" && !states.some((k) => k.state === "next")) {
      replacement = await this.create({ alg: target.alg, activateInMs: 0, actor });
    }
    await this.o.db.transaction(async (tx) => {
      await tx.oidcKeys.delete(kid);
      await tx.audit.record({
        action: "oidc-revoke",
        actor,
        key: kid,
        detail: `OIDC key ${kid} (${target.alg}) revoked and removed from the JWKS`,
        at: this.now(),
      });
    });
    this.opened.delete(kid);
    return replacement ? { replacement } : {};
  }

  private async create(o: {
    alg: OidcAlg;
    activateInMs: number;
    actor: string;
    onlyIfNone?: boolean;
  }): Promise<KeyStatus> {
    const { privateKey, publicJwk } = generate(o.alg);
    // jose is loaded by the first key made, not by every run that merely names the algorithm.
    const { calculateJwkThumbprint } = await import("jose");
    const kid = await calculateJwkThumbprint(publicJwk, "sha256");
    const pkcs8 = privateKey.export({ format: "der", type: "pkcs8" });
    const sealed = await this.sealer().sealOidcKey(kid, pkcs8);
    pkcs8.fill(0);
    const now = this.now();
    const rows = await this.o.db.transaction(async (tx) => {
      const rows = await tx.oidcKeys.all();
      // Another process made the first key a moment ago: use theirs.
      if (o.onlyIfNone && rows.length > 0) return rows;
      await this.prune(tx, rows, now);
      await tx.oidcKeys.insert({
        kid,
        alg: o.alg,
        public_jwk: JSON.stringify(publicJwk),
        ...sealed,
        created_at: now,
        activates_at: now + o.activateInMs,
        signed_until: 0,
      });
      await tx.audit.record({
        action: "oidc-rotate",
        actor: o.actor,
        key: kid,
        detail: `OIDC key ${kid} (${o.alg}) published; signs from ${new Date(now + o.activateInMs).toISOString()}`,
        at: now,
      });
      return tx.oidcKeys.all();
    });
    return statesOf(rows, now).find((k) => k.kid === kid)!;
  }

  private sealer(): NonNullable<OidcKeyStoreOptions["store"]> {
    if (!this.o.store) throw new SecretsError("this OIDC key store only publishes keys");
    return this.o.store;
  }

  /** Inside a write transaction: deletes keys no verifier can need any more. */
  private async prune(tx: Store, rows: OidcKeyRow[], now: number): Promise<void> {
    for (const k of statesOf(rows, now)) {
      if (k.state === "expired") {
        await tx.oidcKeys.delete(k.kid);
        this.opened.delete(k.kid);
      }
    }
  }
}

/** The state of each key at `now` (rows ordered by activation). */
export function statesOf(rows: OidcKeyRow[], now: number): KeyStatus[] {
  const active = rows.filter((r) => r.activates_at <= now);
  const signing = active.at(-1);
  return rows.map((r) => {
    const base = {
      kid: r.kid,
      alg: r.alg as OidcAlg,
      createdAt: r.created_at,
      activatesAt: r.activates_at,
      signedUntil: r.signed_until,
    };
    if (r.activates_at > now) return { ...base, state: "next" };
    if (r === signing) return { ...base, state: "signing" };
    // It stopped signing when the next activated key took over.
    const successor = active[active.indexOf(r) + 1]!;
    const publishedUntil = Math.max(successor.activates_at, r.signed_until) + PUBLISH_LEEWAY_MS;
    return { ...base, state: now < publishedUntil ? "retiring" : "expired", publishedUntil };
  });
}
