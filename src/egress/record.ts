// Where a job connected: every attempt that reached the egress proxy or its DNS, counted per
// destination and verdict, with the bytes each way. Bounded, since the job chooses how many.

/** allowed; refused; audit: let through by audit mode although the rules would refuse it. */
export type Verdict = "allowed" | "refused" | "audit";

export interface ConnectionEntry {
  /** connect: HTTP CONNECT tunnel; http: plain HTTP request; dns: a name lookup. */
  via: "connect" | "http" | "dns";
  /** The host as the job asked for it (a name or an address literal). */
  host: string;
  /** null for DNS lookups. */
  port: number | null;
  /** The address connected to; null when nothing was connected. */
  address: string | null;
  verdict: Verdict;
  /** Why it was refused (or would have been, under audit). */
  reason?: string;
  /** What went wrong after the verdict: a failed lookup or connection. */
  error?: string;
  count: number;
  /** Bytes from the job to the destination, and back. */
  bytesOut: number;
  bytesIn: number;
  /** When the first of these attempts was made (ms since the epoch). */
  firstAt: number;
}

export interface EgressRecord {
  mode: "enforce" | "audit";
  entries: ConnectionEntry[];
  /** Attempts beyond the entry cap, counted but not itemised. */
  dropped: number;
}

export type Attempt = Omit<ConnectionEntry, "count" | "bytesOut" | "bytesIn" | "firstAt">;

/** The handle of one recorded attempt, to add bytes as they flow. */
export interface Tally {
  add(out: number, back: number): void;
}

const MAX_ENTRIES = 1000;

export class ConnectionLog {
  readonly #entries = new Map<string, ConnectionEntry>();
  readonly #mode: EgressRecord["mode"];
  #dropped = 0;

  constructor(mode: EgressRecord["mode"]) {
    this.#mode = mode;
  }

  record(a: Attempt, now = Date.now()): Tally {
    const key = JSON.stringify([a.via, a.host, a.port, a.address, a.verdict, a.reason, a.error]);
    let e = this.#entries.get(key);
    if (!e) {
      if (this.#entries.size >= MAX_ENTRIES) {
        this.#dropped++;
        return { add: () => {} };
      }
      e = { ...a, count: 0, bytesOut: 0, bytesIn: 0, firstAt: now };
      if (e.reason === undefined) delete e.reason;
      if (e.error === undefined) delete e.error;
      this.#entries.set(key, e);
    }
    e.count++;
    const entry = e;
    return {
      add(out, back) {
        entry.bytesOut += out;
        entry.bytesIn += back;
      },
    };
  }

  snapshot(): EgressRecord {
    return {
      mode: this.#mode,
      entries: [...this.#entries.values()].map((e) => ({ ...e })),
      dropped: this.#dropped,
    };
  }
}

/**
 * The allow list that would have let this job make the connections it made (and, under audit,
 * the ones enforcement would have refused): exact `host:port` entries, sorted.
 */
export function suggestAllowlist(r: EgressRecord): string[] {
  const out = new Set<string>();
  for (const e of r.entries) {
    if (e.via === "dns" || e.port === null || e.verdict === "refused") continue;
    out.add(e.host.includes(":") ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`);
  }
  return [...out].sort();
}

/** Destinations the rules refused, as `host:port` (or `host` for lookups), sorted. */
export function refusedDestinations(r: EgressRecord): string[] {
  const out = new Set<string>();
  for (const e of r.entries) {
    if (e.verdict === "allowed") continue;
    const host = e.host.includes(":") ? `[${e.host}]` : e.host;
    out.add(e.port === null ? host : `${host}:${e.port}`);
  }
  return [...out].sort();
}

/** The record with every text the job could choose passed through `redact` (host names above all). */
export function redactRecord(r: EgressRecord, redact: (s: string) => string): EgressRecord {
  return {
    ...r,
    entries: r.entries.map((e) => ({
      ...e,
      host: redact(e.host),
      ...(e.address !== null ? { address: redact(e.address) } : {}),
      ...(e.reason !== undefined ? { reason: redact(e.reason) } : {}),
      ...(e.error !== undefined ? { error: redact(e.error) } : {}),
    })),
  };
}
