// Operational settings of `airlock serve` beside the GitHub App's (serve-config.ts): how long trust
// answers are reused, how long a client may take to send a request. Each has a documented default
// (docs/operations.md), a key in the serve config file and an environment variable that wins.
import { z } from "zod";
import { sizeStringBytes } from "../config/size.js";
import { DEFAULT_DISK_RESERVE } from "../store/disk-reserve.js";

const DURATION = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;
const DURATION_HINT = 'a duration such as "30s", "10m", "12h" or "30d"';

/** Milliseconds of "30s", "10m", "12h", "30d", "1d12h" (null: not a duration). */
export function settingDurationMs(s: string): number | null {
  const m = DURATION.exec(s.trim());
  if (!m || s.trim() === "") return null;
  const [, d = "0", h = "0", min = "0", sec = "0"] = m;
  return (((Number(d) * 24 + Number(h)) * 60 + Number(min)) * 60 + Number(sec)) * 1000;
}

const duration = z
  .string()
  .refine((s) => settingDurationMs(s) !== null, { error: `expected ${DURATION_HINT}` });

const SIZE_HINT = 'a size such as "1GiB", "500MB" or a number of bytes (0: none)';
/** Bytes of "1GiB", "500MB" or "1048576" (null: not a size). */
const settingBytes = (s: string) => (/^\d+$/.test(s.trim()) ? Number(s) : sizeStringBytes(s));
const size = z.union([
  z.number().int().nonnegative(),
  z.string().refine((s) => settingBytes(s) !== null, { error: `expected ${SIZE_HINT}` }),
]);

/** The settings' keys in the serve config file. */
export const settingsFileShape = {
  trust_cache_ttl: duration.optional(),
  http_header_timeout: duration.optional(),
  http_body_timeout: duration.optional(),
  http_idle_timeout: duration.optional(),
  disk_reserve: size.optional(),
};

/** How long the HTTP server waits on a client before it closes the connection. */
export interface HttpTimeouts {
  /** For a request's headers. */
  headersMs: number;
  /** For a whole request, headers and body (a client that stalls mid-body is cut off). */
  requestMs: number;
  /** For the next request on a kept-alive connection. */
  idleMs: number;
}

export interface ServeSettings {
  /** How long a trust answer is reused when no membership event says it changed. */
  trustCacheTtlMs: number;
  http: HttpTimeouts;
  /** Free space kept on the data directory's disk: below it no job starts and /readyz fails. */
  diskReserveBytes: number;
}

export const DEFAULT_HTTP_TIMEOUTS: HttpTimeouts = {
  headersMs: 10_000,
  requestMs: 60_000,
  // Longer than the 60 s idle timeout of common proxies, so that they close first.
  idleMs: 75_000,
};

export const DEFAULT_SETTINGS: ServeSettings = {
  trustCacheTtlMs: 60_000,
  http: DEFAULT_HTTP_TIMEOUTS,
  diskReserveBytes: DEFAULT_DISK_RESERVE,
};

type SettingsFile = {
  [K in keyof typeof settingsFileShape]?: z.infer<(typeof settingsFileShape)[K]>;
};

/** The settings from the file and the environment (which wins); throws a message on a bad one. */
export function resolveSettings(fc: SettingsFile, env: NodeJS.ProcessEnv): ServeSettings {
  const ms = (envName: string, fileKey: keyof SettingsFile, fallback: number, min = 0) => {
    const raw = env[envName] || (fc[fileKey] as string | undefined);
    if (raw === undefined) return fallback;
    const v = settingDurationMs(raw);
    const where = env[envName] ? envName : fileKey;
    if (v === null) throw new Error(`${where} must be ${DURATION_HINT}`);
    if (v < min) throw new Error(`${where} must be at least ${min / 1000}s`);
    return v;
  };
  const http: HttpTimeouts = {
    headersMs: ms(
      "AIRLOCK_HTTP_HEADER_TIMEOUT",
      "http_header_timeout",
      DEFAULT_HTTP_TIMEOUTS.headersMs,
      1000,
    ),
    requestMs: ms(
      "AIRLOCK_HTTP_BODY_TIMEOUT",
      "http_body_timeout",
      DEFAULT_HTTP_TIMEOUTS.requestMs,
      1000,
    ),
    idleMs: ms(
      "AIRLOCK_HTTP_IDLE_TIMEOUT",
      "http_idle_timeout",
      DEFAULT_HTTP_TIMEOUTS.idleMs,
      1000,
    ),
  };
  if (http.headersMs > http.requestMs) {
    throw new Error(
      "http_header_timeout must not be longer than http_body_timeout (which counts the headers too)",
    );
  }
  const reserveRaw = env.AIRLOCK_DISK_RESERVE || fc.disk_reserve;
  const diskReserveBytes =
    reserveRaw === undefined
      ? DEFAULT_DISK_RESERVE
      : typeof reserveRaw === "number"
        ? reserveRaw
        : settingBytes(reserveRaw);
  if (diskReserveBytes === null) {
    throw new Error(
      `${env.AIRLOCK_DISK_RESERVE ? "AIRLOCK_DISK_RESERVE" : "disk_reserve"} must be ${SIZE_HINT}`,
    );
  }
  return {
    diskReserveBytes,
    trustCacheTtlMs: ms(
      "AIRLOCK_TRUST_CACHE_TTL",
      "trust_cache_ttl",
      DEFAULT_SETTINGS.trustCacheTtlMs,
    ),
    http,
  };
}
