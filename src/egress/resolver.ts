// Name resolution for one job's egress: the names the executor was told about first (a hosts
// map, also written to the sandbox's /etc/hosts), then the host's resolver. Answers are kept for
// a short while so that a job hammering its DNS cannot keep the resolver threads busy.
import { lookup } from "node:dns/promises";
import { type Address, parseAddress } from "./rules.js";

export type Resolve = (name: string) => Promise<Address[]>;

const TTL_MS = 30_000;
const MAX_CACHED = 512;

export function createResolver(hosts: Record<string, string[]> = {}): Resolve {
  const fixed = new Map<string, Address[]>();
  for (const [name, addrs] of Object.entries(hosts)) {
    fixed.set(
      name.toLowerCase(),
      addrs.map((a) => {
        const ip = parseAddress(a);
        if (!ip) throw new Error(`hosts entry ${name}: ${JSON.stringify(a)} is not an IP address`);
        return ip;
      }),
    );
  }
  const cache = new Map<string, { until: number; addrs: Promise<Address[]> }>();
  return (name) => {
    const f = fixed.get(name);
    if (f) return Promise.resolve(f);
    const now = Date.now();
    const hit = cache.get(name);
    if (hit && hit.until > now) return hit.addrs;
    if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value!);
    const addrs = lookup(name, { all: true, verbatim: true }).then((r) =>
      r.map((x) => parseAddress(x.address)).filter((x) => x !== null),
    );
    cache.set(name, { until: now + TTL_MS, addrs });
    // A failure is not kept: the next attempt asks again.
    addrs.catch(() => cache.delete(name));
    return addrs;
  };
}
