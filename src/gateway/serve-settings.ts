// Operational settings of `airlock serve` beside the GitHub App's (serve-config.ts): how long trust
// answers are reused. Each has a documented default (docs/operations.md), a key in the serve
// config file and an environment variable that wins over it.
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
};

export interface ServeSettings {
  /** How long a trust answer is reused when no membership event says it changed. */
  trustCacheTtlMs: number;
}

export const DEFAULT_SETTINGS: ServeSettings = {
  trustCacheTtlMs: 60_000,
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
  return {
    trustCacheTtlMs: ms(
      "AIRLOCK_TRUST_CACHE_TTL",
      "trust_cache_ttl",
      DEFAULT_SETTINGS.trustCacheTtlMs,
    ),
  };
}
