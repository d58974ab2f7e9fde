// What a job may reach: its allow rules, and the addresses no rule by name may lead to (loopback,
// link-local such as cloud metadata at 169.254.169.254, private ranges) unless an address rule
// lists them explicitly. Decisions only: resolving and connecting are the proxy's.
import {
  type Address,
  type Cidr,
  hostName,
  inCidr,
  parseAddress,
  parseCidr,
  parseRule,
  type Rule,
} from "./rules.js";

/**
 * Addresses a name must not lead to unless an address rule inside them is listed: where the
 * machine's own services, its cloud's metadata and the private network live.
 */
export const DEFAULT_FORBIDDEN = [
  "0.0.0.0/8", // "this network"
  "10.0.0.0/8", // private
  "100.64.0.0/10", // carrier-grade NAT
  "127.0.0.0/8", // loopback
  "169.254.0.0/16", // link-local: cloud metadata (169.254.169.254)
  "172.16.0.0/12", // private
  "192.0.0.0/24", // IETF protocol assignments
  "192.168.0.0/16", // private
  "198.18.0.0/15", // benchmarking
  "224.0.0.0/4", // multicast
  "240.0.0.0/4", // reserved, broadcast
  "::/128", // unspecified
  "::1/128", // loopback
  "fc00::/7", // unique local (private)
  "fe80::/10", // link-local
  "ff00::/8", // multicast
];

export interface PolicyOptions {
  /** Replaces DEFAULT_FORBIDDEN (tests mark loopback addresses of their own choosing). */
  forbidden?: string[];
  /** Allow everything, recording what enforcement would have refused. */
  audit?: boolean;
}

export type Target = { kind: "name"; name: string } | { kind: "address"; address: Address };

/** A refusal's reason, in words a maintainer can act on; null when allowed. */
export type Refusal = string | null;

/** Why `address` (which `host` named, when it is a name) is not connected to. */
export function forbiddenReason(host: string | null, address: Address, kind: string): string {
  return host
    ? `${host} resolves to ${address} (${kind}), which network.allow does not list`
    : `the address ${address} is ${kind}, which network.allow does not list`;
}

export class EgressPolicy {
  readonly rules: Rule[];
  readonly audit: boolean;
  readonly #forbidden: Cidr[];

  constructor(allow: readonly string[], opts: PolicyOptions = {}) {
    this.rules = allow.map(parseRule);
    this.audit = opts.audit ?? false;
    this.#forbidden = (opts.forbidden ?? DEFAULT_FORBIDDEN).map(parseCidr);
  }

  /** A requested host as the proxy sees it: an address literal or a name; null when neither. */
  static target(host: string): Target | null {
    const address = parseAddress(host);
    if (address) return { kind: "address", address };
    const name = hostName(host);
    return name ? { kind: "name", name } : null;
  }

  /** Whether a name rule lets `name` through on `port` (any port when null: a DNS lookup). */
  nameAllowed(name: string, port: number | null): boolean {
    return this.rules.some(
      (r) =>
        r.kind === "name" &&
        portMatches(r.port, port) &&
        (r.wildcard ? name.endsWith(`.${r.name}`) : name === r.name),
    );
  }

  /** Why a request for `target` on `port` is refused before anything is resolved, or null. */
  checkTarget(target: Target, port: number): Refusal {
    if (target.kind === "name") {
      return this.nameAllowed(target.name, port)
        ? null
        : `${target.name}:${port} is not in network.allow`;
    }
    const a = target.address;
    const listed = this.rules.some(
      (r) => r.kind === "range" && portMatches(r.port, port) && inCidr(a, r.cidr),
    );
    return listed ? null : `the address ${a}:${port} is not in network.allow`;
  }

  /**
   * What kind of forbidden address `address` is ("loopback", "link-local", ...), or null when
   * it may be connected to on `port`. A forbidden address is usable only when an address rule
   * lying wholly inside the forbidden ranges lists it (so 10.0.0.0/8:5432 opens the private
   * network on 5432, and 0.0.0.0/0 opens nothing forbidden).
   */
  forbidden(address: Address, port: number | null): string | null {
    const forbidden = this.#forbidden.filter((f) => inCidr(address, f));
    if (forbidden.length === 0) return null;
    const unlocked = this.rules.some(
      (r) =>
        r.kind === "range" &&
        portMatches(r.port, port) &&
        inCidr(address, r.cidr) &&
        forbidden.some((f) => r.cidr[1] >= f[1] && inCidr(r.cidr[0], f)),
    );
    return unlocked ? null : rangeName(address);
  }
}

function portMatches(rule: number | null, port: number | null): boolean {
  return rule === null || port === null || rule === port;
}

function rangeName(a: Address): string {
  const r = a.range();
  const words: Record<string, string> = {
    loopback: "loopback",
    linkLocal: "link-local",
    private: "private",
    uniqueLocal: "private",
    carrierGradeNat: "carrier-grade NAT",
    unspecified: "unspecified",
    multicast: "multicast",
    broadcast: "broadcast",
    reserved: "reserved",
  };
  return words[r] ?? "a forbidden address";
}
