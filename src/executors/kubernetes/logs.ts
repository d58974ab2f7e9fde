// Follows a pod's log into the job's output, reconnecting when the connection drops while the
// container still runs, without losing or repeating a line. Kubernetes prefixes each line with
// its RFC3339Nano timestamp when asked (timestamps=true) and resumes a number of seconds back
// (sinceSeconds: the API's pod log operation has no sinceTime); so the follower remembers the
// last timestamp it wrote and how many lines it wrote with exactly that timestamp, reconnects
// from a little before it (a margin for clock differences), and skips what it already wrote. A
// line cut by a drop is never written half: it comes again whole after the reconnect.
import type { Writable } from "node:stream";
import { StringDecoder } from "node:string_decoder";
import { abortableSleep } from "../sleep.js";

export interface LogSource {
  /** Opens the log from `sinceSeconds` ago on (all of it when undefined). */
  open(
    sinceSeconds: number | undefined,
    signal: AbortSignal,
  ): Promise<AsyncIterable<Buffer | string>>;
  /** True once the container has terminated (its log can only end now). */
  ended(): Promise<boolean>;
}

export interface FollowOptions {
  /** Waits before reconnecting: given the number of reconnects so far. */
  backoffMs?: (n: number) => number;
  /** Reconnects in a row without a new line before giving up. */
  maxReconnects?: number;
  signal: AbortSignal;
  /** Tells the log that the follower reconnected (for tests and the job's log). */
  onReconnect?: (n: number) => void;
}

/** Seconds reread before the last line written, for clocks that differ between Airlock and the node. */
const MARGIN_S = 10;
const TS = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)) (.*)$/s;

/** Follows until the log ends with the container; resolves with the lines written. */
export async function followLog(src: LogSource, out: Writable, o: FollowOptions): Promise<number> {
  const backoff = o.backoffMs ?? ((n) => Math.min(5_000, 200 * 2 ** n));
  const max = o.maxReconnects ?? 20;
  let lastTs = "";
  let atLast = 0;
  let written = 0;
  let idle = 0;
  for (let n = 0; ; n++) {
    if (o.signal.aborted) return written;
    const since = lastTs
      ? Math.max(1, Math.ceil((Date.now() - Date.parse(lastTs)) / 1000) + MARGIN_S)
      : undefined;
    let skipAtLast = atLast;
    let partial = "";
    let progressed = false;
    const take = (line: string) => {
      const m = TS.exec(line);
      const ts = m ? normalise(m[1]!) : lastTs;
      const body = m ? m[2]! : line;
      if (lastTs && ts < lastTs) return; // written before the drop
      if (ts === lastTs && skipAtLast > 0) {
        skipAtLast--;
        return;
      }
      if (ts === lastTs) atLast++;
      else {
        lastTs = ts;
        atLast = 1;
        skipAtLast = 0;
      }
      out.write(`${body}\n`);
      written++;
      progressed = true;
    };
    let clean = false;
    const text = new StringDecoder("utf8");
    try {
      const stream = await src.open(since, o.signal);
      for await (const chunk of stream) {
        partial += typeof chunk === "string" ? chunk : text.write(chunk);
        const lines = partial.split("\n");
        partial = lines.pop()!;
        for (const l of lines) take(l);
      }
      clean = true;
    } catch {
      // A dropped connection: the next one resumes where this one was.
    }
    if (o.signal.aborted) return written;
    // A log read to its end after the container stopped is complete: what followed the last
    // newline was its last line. After a drop, one more connection reads the rest.
    if (clean && (await src.ended().catch(() => false))) {
      if (partial !== "") take(partial);
      return written;
    }
    idle = progressed ? 0 : idle + 1;
    if (idle > max) {
      out.write(`airlock: the pod's log could not be followed after ${max} reconnects\n`);
      return written;
    }
    o.onReconnect?.(n + 1);
    await abortableSleep(backoff(idle), o.signal);
  }
}

/** Timestamps compare as strings once they have the same number of fraction digits. */
function normalise(ts: string): string {
  const m = /^(.{19})(?:\.(\d+))?(.*)$/.exec(ts)!;
  return `${m[1]}.${(m[2] ?? "").padEnd(9, "0").slice(0, 9)}${m[3] === "Z" ? "Z" : m[3]}`;
}
