// How `airlock serve` logs: JSON lines (pino) for a service manager or a log collector, and
// readable lines when a person watches it on a terminal. AIRLOCK_LOG_FORMAT chooses explicitly.
import type { FastifyBaseLogger } from "fastify";
import { type DestinationStream, pino } from "pino";
import { UserError } from "./errors.js";

export type LogFormat = "json" | "pretty";

export function logFormat(env: NodeJS.ProcessEnv, isTTY: boolean | undefined): LogFormat {
  const f = env.AIRLOCK_LOG_FORMAT;
  if (f === "json" || f === "pretty") return f;
  if (f) throw new UserError(`AIRLOCK_LOG_FORMAT must be "json" or "pretty", not "${f}"`);
  return isTTY ? "pretty" : "json";
}

const LEVELS: Record<number, string> = {
  10: "trace",
  20: "debug",
  30: "info",
  40: "warn",
  50: "error",
  60: "fatal",
};

const text = (v: unknown): string => (typeof v === "string" ? v : JSON.stringify(v));

/** One pino JSON line as "13:45:02 info  message  key=value …"; anything else as it is. */
export function prettyLine(line: string): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const { level, time, msg, pid: _pid, hostname: _host, req, res, ...rest } = o;
  const at = typeof time === "number" ? new Date(time).toTimeString().slice(0, 8) : "";
  const parts: string[] = [];
  // Fastify's request lines: the method and path, then the status.
  if (req && typeof req === "object") {
    const r = req as Record<string, unknown>;
    parts.push(`${text(r.method ?? "")} ${text(r.url ?? "")}`.trim());
  }
  if (res && typeof res === "object")
    parts.push(`→ ${text((res as Record<string, unknown>).statusCode)}`);
  for (const [k, v] of Object.entries(rest)) parts.push(`${k}=${text(v)}`);
  const name = (LEVELS[level as number] ?? String(level)).padEnd(5);
  return `${at} ${name} ${text(msg ?? "")}${parts.length ? `  ${parts.join(" ")}` : ""}`;
}

/** A pino logger writing to `out` in `format`. */
export function serveLogger(
  format: LogFormat,
  out: NodeJS.WritableStream,
  level = "info",
): FastifyBaseLogger {
  const dest: DestinationStream =
    format === "json"
      ? { write: (s: string) => void out.write(s) }
      : {
          write: (s: string) => {
            for (const l of s.split("\n")) if (l) out.write(`${prettyLine(l)}\n`);
          },
        };
  return pino({ level }, dest) as FastifyBaseLogger;
}
