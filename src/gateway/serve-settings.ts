// Operational settings of `airlock serve` beside the GitHub App's (serve-config.ts): how long trust
// answers are reused, how long a client may take to send a request. Each has a documented default
// (docs/operations.md), a key in the serve config file and an environment variable that wins.
import { z } from "zod";

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

/** The settings' keys in the serve config file. */
export const settingsFileShape = {
  trust_cache_ttl: duration.optional(),
  http_header_timeout: duration.optional(),
  http_body_timeout: duration.optional(),
  http_idle_timeout: duration.optional(),
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
};

type SettingsFile = { [K in keyof typeof settingsFileShape]?: string };

/** The settings from the file and the environment (which wins); throws a message on a bad one. */
export function resolveSettings(fc: SettingsFile, env: NodeJS.ProcessEnv): ServeSettings {
  const ms = (envName: string, fileKey: keyof SettingsFile, fallback: number, min = 0) => {
    const raw = env[envName] || fc[fileKey];
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
  return {
    trustCacheTtlMs: ms(
      "AIRLOCK_TRUST_CACHE_TTL",
      "trust_cache_ttl",
      DEFAULT_SETTINGS.trustCacheTtlMs,
    ),
    http,
  };
}
