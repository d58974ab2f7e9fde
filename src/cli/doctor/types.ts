// What every group of `airlock doctor` checks works with, and what it returns.
import type { Config } from "../../config/schema.js";
import type { DoctorCheck } from "../../secrets/vault/index.js";
import type { OpenedStore } from "../../store/index.js";

export type { DoctorCheck };

export interface DoctorContext {
  /** The project directory (`-C`), absolute. */
  projectDir: string;
  /** Airlock's data directory, as `airlock run` resolves it (or `--data-dir`). */
  dataDir: string;
  env: NodeJS.ProcessEnv;
  /** The project's pipeline; undefined when .airlock.yml is missing or invalid. */
  config: Config | undefined;
  /** The database, opened to look (not migrated); undefined when there is none yet. */
  db: OpenedStore | undefined;
}

export const ok = (subject: string, message: string): DoctorCheck => ({
  status: "ok",
  subject,
  message,
});
export const warn = (subject: string, message: string): DoctorCheck => ({
  status: "warn",
  subject,
  message,
});
export const fail = (subject: string, message: string): DoctorCheck => ({
  status: "fail",
  subject,
  message,
});

export const reason = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** Where a warning about little space starts. */
export const LOW_SPACE = 1024 ** 3;

export function bytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(1)} GiB`;
  if (n >= 1024 ** 2) return `${Math.round(n / 1024 ** 2)} MiB`;
  return `${Math.round(n / 1024)} KiB`;
}
