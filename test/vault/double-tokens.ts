// The Vault double's tokens and ACL policies: TTLs, use counts, parent and child tokens (a
// child dies with its parent), and capabilities by Vault's path globs.
import { randomBytes } from "node:crypto";
import type { Json } from "./double-kv.js";

export interface Token {
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

export interface MintOptions {
  policies: string[];
  ttlSec?: number;
  numUses?: number;
  meta?: Record<string, string>;
  parent?: string;
  renewable?: boolean;
  displayName?: string;
}

type Rules = Record<string, string[]>;

/** Vault's own `default` policy, reduced to what the double serves. */
const DEFAULT_POLICY: Rules = {
  "auth/token/lookup-self": ["read"],
  "auth/token/renew-self": ["update"],
  "auth/token/revoke-self": ["update"],
  "sys/capabilities-self": ["update"],
};

export const rand = (
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

/** Vault's policy globs: `+` is one path segment, a trailing `*` is any suffix. */
function globMatch(glob: string, path: string): boolean {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === "*" && i === glob.length - 1) re += ".*";
    else if (c === "+") re += "[^/]+";
    else re += c.replace(/[.*+?^$()|[\]\\{}]/g, "\\$&");
  }
  return new RegExp(`^${re}$`).test(path);
}

export class Tokens {
  private readonly byId = new Map<string, Token>();
  private readonly idByAccessor = new Map<string, string>();
  readonly policies = new Map<string, Rules>();

  constructor(
    private readonly now: () => number,
    /** Called for each token revoked, children included (its leases go with it). */
    private readonly onRevoke: (t: Token) => void,
  ) {}

  mint(o: MintOptions): Token {
    const now = this.now();
    const t: Token = {
      id: `hvs.${rand(24)}`,
      accessor: rand(24),
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
    this.byId.set(t.id, t);
    this.idByAccessor.set(t.accessor, t.id);
    if (o.parent) this.byId.get(o.parent)?.children.add(t.id);
    return t;
  }

  get(id: string): Token | undefined {
    return this.byId.get(id);
  }
  byAccessor(accessor: string): Token | undefined {
    const id = this.idByAccessor.get(accessor);
    return id ? this.byId.get(id) : undefined;
  }
  all(): Token[] {
    return [...this.byId.values()];
  }

  /** The token if Vault would accept it now. */
  live(id: string): Token | undefined {
    const t = this.byId.get(id);
    if (!t || t.revoked) return undefined;
    if (t.expiresAt && this.now() >= t.expiresAt) return undefined;
    if (t.numUses && t.usesLeft <= 0) return undefined;
    // A child dies with its parent.
    if (t.parent && !this.live(t.parent)) return undefined;
    return t;
  }

  use(t: Token): void {
    if (t.numUses === 0) return;
    t.usesLeft--;
    if (t.usesLeft <= 0) this.revoke(t);
  }

  revoke(t: Token): void {
    t.revoked = true;
    for (const c of t.children) {
      const child = this.byId.get(c);
      if (child && !child.revoked) this.revoke(child);
    }
    this.onRevoke(t);
  }

  rulesOf(t: Token): Rules[] {
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

  allowed(t: Token, path: string, need: string[]): boolean {
    const caps = this.capabilities(t, path);
    if (caps.includes("root")) return true;
    if (caps.includes("deny")) return false;
    return need.some((n) => caps.includes(n));
  }

  lookupBody(t: Token): Json {
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

  authBody(t: Token): Json {
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
}
