// Which database Airlock uses, from the serve config's `database:` block and the environment
// (which wins): none means the data directory's SQLite file. The password comes from a file or an
// environment variable, never from the URL or the command line, and no message quotes it.
import { readFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { DURATION_RE, durationStringMs } from "../config/duration.js";
import type { TlsMode } from "./engines/postgres.js";
import type { DatabaseOptions } from "./open.js";

export class DatabaseSettingsError extends Error {}

const ref = z.union([
  z.object({ env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/) }).strict(),
  z.object({ file: z.string().min(1) }).strict(),
]);

/** The serve config's `database:` block. */
export const databaseSchema = z
  .object({
    /** postgres://USER@HOST:PORT/DATABASE[?sslmode=…], or sqlite:PATH. */
    url: z.string().min(1),
    password: ref.optional(),
    tls: z
      .object({
        mode: z.enum(["disable", "require", "verify-ca", "verify-full"]).optional(),
        ca_file: z.string().min(1).optional(),
        cert_file: z.string().min(1).optional(),
        key_file: z.string().min(1).optional(),
      })
      .strict()
      .optional(),
    pool_size: z.number().int().min(1).max(500).optional(),
    /** "30s", "2m"; "0s" turns the limit off. */
    statement_timeout: z.string().regex(DURATION_RE, "a duration such as 30s or 2m").optional(),
    /** How long a gateway's claim on work holds without a renewal ("30s"). */
    lease_ttl: z.string().regex(DURATION_RE, "a duration such as 30s or 2m").optional(),
  })
  .strict();

export type DatabaseBlock = z.infer<typeof databaseSchema>;

/** Environment variables that choose the database; each wins over the serve config. */
export const DATABASE_ENV = {
  url: "AIRLOCK_DATABASE_URL",
  password: "AIRLOCK_DATABASE_PASSWORD",
  passwordFile: "AIRLOCK_DATABASE_PASSWORD_FILE",
  caFile: "AIRLOCK_DATABASE_CA_FILE",
  poolSize: "AIRLOCK_DATABASE_POOL_SIZE",
  statementTimeout: "AIRLOCK_DATABASE_STATEMENT_TIMEOUT",
  leaseTtl: "AIRLOCK_DATABASE_LEASE_TTL",
} as const;

function readSecretFile(file: string, what: string): string {
  try {
    const v = readFileSync(file, "utf8").replace(/\r?\n$/, "");
    if (!v) throw new DatabaseSettingsError(`${what}: ${file} is empty`);
    return v;
  } catch (e) {
    if (e instanceof DatabaseSettingsError) throw e;
    throw new DatabaseSettingsError(
      `${what}: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? "error"})`,
    );
  }
}

/**
 * The database settings, or undefined for the default (the data directory's SQLite file).
 * `base` is the directory relative file names in the config are read from.
 */
export function resolveDatabase(o: {
  block?: DatabaseBlock | undefined;
  env: NodeJS.ProcessEnv;
  base?: string;
  /** Where the block came from, for messages ("serve.yml"). */
  source?: string;
}): DatabaseOptions | undefined {
  const { env, block } = o;
  const base = o.base ?? process.cwd();
  const from = (what: string) => `${o.source ? `${o.source}: ` : ""}database.${what}`;
  const url = env[DATABASE_ENV.url] || block?.url;
  if (!url) return undefined;
  const ttl = env[DATABASE_ENV.leaseTtl] || block?.lease_ttl;
  let leaseTtlMs: number | undefined;
  if (ttl !== undefined) {
    leaseTtlMs = DURATION_RE.test(ttl) ? durationStringMs(ttl) : 0;
    if (leaseTtlMs < 1000) {
      throw new DatabaseSettingsError(
        `${env[DATABASE_ENV.leaseTtl] ? DATABASE_ENV.leaseTtl : from("lease_ttl")} must be a duration of at least 1s, such as 30s`,
      );
    }
  }
  const lease = leaseTtlMs !== undefined ? { leaseTtlMs } : {};
  if (url.startsWith("sqlite:")) return { url, ...lease };

  let password: string | undefined;
  if (env[DATABASE_ENV.password]) password = env[DATABASE_ENV.password];
  else if (env[DATABASE_ENV.passwordFile]) {
    password = readSecretFile(env[DATABASE_ENV.passwordFile]!, DATABASE_ENV.passwordFile);
  } else if (block?.password && "env" in block.password) {
    password = env[block.password.env];
    if (!password) {
      throw new DatabaseSettingsError(
        `${from("password")}: environment variable ${block.password.env} is not set`,
      );
    }
  } else if (block?.password && "file" in block.password) {
    password = readSecretFile(path.resolve(base, block.password.file), from("password"));
  }

  const pem = (file: string | undefined, what: string) =>
    file === undefined ? undefined : readSecretFile(path.resolve(base, file), what);
  const caFile = env[DATABASE_ENV.caFile] || block?.tls?.ca_file;
  const tls = {
    mode: block?.tls?.mode as TlsMode | undefined,
    ca: pem(caFile, env[DATABASE_ENV.caFile] ? DATABASE_ENV.caFile : from("tls.ca_file")),
    cert: pem(block?.tls?.cert_file, from("tls.cert_file")),
    key: pem(block?.tls?.key_file, from("tls.key_file")),
  };

  let poolSize = block?.pool_size;
  const envPool = env[DATABASE_ENV.poolSize];
  if (envPool) {
    poolSize = Number(envPool);
    if (!Number.isInteger(poolSize) || poolSize < 1 || poolSize > 500) {
      throw new DatabaseSettingsError(
        `${DATABASE_ENV.poolSize} must be a whole number from 1 to 500`,
      );
    }
  }
  const timeout = env[DATABASE_ENV.statementTimeout] || block?.statement_timeout;
  if (timeout !== undefined && !DURATION_RE.test(timeout)) {
    throw new DatabaseSettingsError(
      `${env[DATABASE_ENV.statementTimeout] ? DATABASE_ENV.statementTimeout : from("statement_timeout")} must be a duration such as 30s or 2m`,
    );
  }
  return {
    url,
    password,
    tls,
    ...(poolSize !== undefined ? { poolSize } : {}),
    ...(timeout !== undefined ? { statementTimeoutMs: durationStringMs(timeout) } : {}),
    ...lease,
  };
}
