// The entries of `network: { allow: [...] }`: host names (with a leading "*." wildcard), IP
// addresses and ranges, each with an optional port. Parsed once when the config is loaded (so a
// bad entry is a config error at its line) and again by whatever enforces them.
import { isIP } from "node:net";
import { domainToASCII } from "node:url";
import ipaddr from "ipaddr.js";

export type Address = ipaddr.IPv4 | ipaddr.IPv6;
export type Cidr = [Address, number];

export type Rule =
  /** `example.com` or `*.example.com` (any depth below it, not example.com itself). */
  | { kind: "name"; name: string; wildcard: boolean; port: number | null; text: string }
  /** `10.0.0.0/8`, `203.0.113.7`, `[2001:db8::/32]:443`. */
  | { kind: "range"; cidr: Cidr; port: number | null; text: string };

export class RuleError extends Error {}

const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

/** Parses one allow entry, or throws a RuleError saying what is wrong and how to write it. */
export function parseRule(entry: string): Rule {
  const text = entry.trim();
  const bad = (why: string): never => {
    throw new RuleError(`network.allow entry ${JSON.stringify(entry)} ${why}`);
  };
  if (text === "") bad("is empty");
  if (text === "*" || text.startsWith("*:")) {
    bad("would allow every host: write `network: true`, or `audit: true` to record them");
  }
  let host: string;
  let portText: string | undefined;
  if (text.startsWith("[")) {
    const end = text.indexOf("]");
    if (end < 0) bad('has "[" without "]": write [2001:db8::1]:443');
    host = text.slice(1, end);
    const rest = text.slice(end + 1);
    if (rest !== "" && !rest.startsWith(":")) bad('has text after "]": write [2001:db8::1]:443');
    if (rest !== "") portText = rest.slice(1);
    if (isIP(host.split("/")[0]!) !== 6)
      bad("has brackets around something other than an IPv6 address");
  } else if ((text.match(/:/g) ?? []).length > 1) {
    host = text; // IPv6 without a port
  } else {
    const colon = text.lastIndexOf(":");
    host = colon < 0 ? text : text.slice(0, colon);
    if (colon >= 0) portText = text.slice(colon + 1);
  }
  let port: number | null = null;
  if (portText !== undefined) {
    if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
      bad("has a port that is not a number from 1 to 65535");
    }
    port = Number(portText);
  }
  const [addr, len] = host.split("/") as [string, string | undefined];
  if (isIP(addr)) {
    const ip = ipaddr.parse(addr);
    const max = ip.kind() === "ipv4" ? 32 : 128;
    if (len !== undefined && (!/^\d{1,3}$/.test(len) || Number(len) > max)) {
      bad(`has a prefix length that is not a number from 0 to ${max}`);
    }
    return {
      kind: "range",
      cidr: [normalise(ip), len === undefined ? max : Number(len)],
      port,
      text,
    };
  }
  if (len !== undefined) bad("has a range (/) after something other than an IP address");
  const wildcard = host.startsWith("*.");
  const name = hostName(wildcard ? host.slice(2) : host);
  if (name === null) {
    bad(
      host.includes("*")
        ? 'has a "*" other than a leading "*.": write *.example.com'
        : "is neither a host name, an IP address nor a range (e.g. 10.0.0.0/8)",
    );
  }
  if (wildcard && !name!.includes(".")) {
    bad("would allow a whole top-level domain: name a domain, e.g. *.example.com");
  }
  return { kind: "name", name: name!, wildcard, port, text };
}

/**
 * A host name as it is compared: lower case, ASCII (IDNA), without a trailing dot; null when it
 * is not a usable DNS name (an all-numeric last label would read as an address).
 */
export function hostName(raw: string): string | null {
  const stripped = raw.endsWith(".") ? raw.slice(0, -1) : raw;
  if (stripped === "" || stripped.length > 253) return null;
  // domainToASCII accepts "_" only where it is harmless; check the labels ourselves after it.
  const ascii = /^[\x21-\x7e]*$/.test(stripped) ? stripped.toLowerCase() : domainToASCII(stripped);
  if (ascii === "") return null;
  const labels = ascii.split(".");
  if (!labels.every((l) => LABEL.test(l))) return null;
  if (/^\d+$/.test(labels[labels.length - 1]!)) return null;
  return ascii;
}

/** IPv4-mapped IPv6 addresses (::ffff:127.0.0.1) are the IPv4 address they carry. */
export function normalise(ip: Address): Address {
  return ip.kind() === "ipv6" && (ip as ipaddr.IPv6).isIPv4MappedAddress()
    ? (ip as ipaddr.IPv6).toIPv4Address()
    : ip;
}

/** The address in `text`, normalised, or null when it is not an IP address. */
export function parseAddress(text: string): Address | null {
  const bare = text.startsWith("[") && text.endsWith("]") ? text.slice(1, -1) : text;
  return isIP(bare) ? normalise(ipaddr.parse(bare)) : null;
}

export function inCidr(ip: Address, [net, len]: Cidr): boolean {
  return ip.kind() === net.kind() && ip.match(net, len);
}

export function parseCidr(text: string): Cidr {
  const [addr, len] = text.split("/") as [string, string | undefined];
  const ip = normalise(ipaddr.parse(addr));
  return [ip, len === undefined ? (ip.kind() === "ipv4" ? 32 : 128) : Number(len)];
}

/** How an address is written in records and URLs' host part (IPv6 without brackets). */
export function addressText(ip: Address): string {
  return ip.toString();
}
