// A job's connection record as people read it: destinations with counts and bytes, what was
// refused, and the allow list that fits what the job did ("this job connected to: …").
import { formatBytes } from "../config/size.js";
import { type EgressRecord, refusedDestinations, suggestAllowlist } from "./record.js";

export interface Destination {
  /** `host:port`, or `host` for a DNS lookup. */
  destination: string;
  connections: number;
  bytesOut: number;
  bytesIn: number;
}

/** Connections let through (allowed, or audited), summed per destination, busiest first. */
export function destinations(r: EgressRecord): Destination[] {
  const by = new Map<string, Destination>();
  for (const e of r.entries) {
    if (e.verdict === "refused" || e.port === null) continue;
    const destination = `${e.host.includes(":") ? `[${e.host}]` : e.host}:${e.port}`;
    const d = by.get(destination) ?? { destination, connections: 0, bytesOut: 0, bytesIn: 0 };
    d.connections += e.count;
    d.bytesOut += e.bytesOut;
    d.bytesIn += e.bytesIn;
    by.set(destination, d);
  }
  return [...by.values()].sort(
    (a, b) =>
      b.bytesIn + b.bytesOut - (a.bytesIn + a.bytesOut) ||
      a.destination.localeCompare(b.destination),
  );
}

/** The `egress` field of `airlock run --json` and the API. */
export function egressJson(r: EgressRecord) {
  return {
    mode: r.mode,
    connections: r.entries,
    dropped: r.dropped,
    suggestedAllowlist: suggestAllowlist(r),
    refused: refusedDestinations(r),
  };
}

/** Lines for the end of `airlock run`. */
export function egressLines(jobId: string, r: EgressRecord): string[] {
  const lines: string[] = [];
  const to = destinations(r).map(
    (d) =>
      `${d.destination} (${d.connections}×, ${formatBytes(d.bytesOut)} out, ${formatBytes(d.bytesIn)} in)`,
  );
  lines.push(`egress: ${jobId} connected to: ${to.length ? to.join(", ") : "nothing"}`);
  const refused = refusedDestinations(r);
  if (refused.length) {
    lines.push(
      `egress: ${jobId} ${r.mode === "audit" ? "would be refused (audit)" : "was refused"}: ${refused.join(", ")}`,
    );
  }
  if (r.dropped) lines.push(`egress: ${jobId}: ${r.dropped} more attempts not itemised`);
  const suggested = suggestAllowlist(r);
  if (suggested.length) {
    const list = suggested.map((s) => JSON.stringify(s)).join(", ");
    lines.push(`egress: ${jobId}: suggested network: { allow: [${list}] }`);
  }
  return lines;
}
