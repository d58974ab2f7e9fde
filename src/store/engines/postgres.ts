// The PostgreSQL engine: a `pg` pool behind kysely's Postgres dialect. The URL names the server
// and database only; the password comes from the environment or a file (never argv, never the
// URL), TLS from `sslmode` and certificate files.
import { Kysely, PostgresDialect, sql } from "kysely";
import type pg from "pg";
import type { Database } from "../schema.js";

export type TlsMode = "disable" | "require" | "verify-ca" | "verify-full";

export interface PostgresOptions {
  url: string;
  password?: string | undefined;
  tls?: {
    /** Overrides the URL's sslmode. */
    mode?: TlsMode | undefined;
    /** PEM contents: the CA that signed the server's certificate, a client certificate and key. */
    ca?: string | undefined;
    cert?: string | undefined;
    key?: string | undefined;
  };
  /** Connections at most (default 10). */
  poolSize?: number | undefined;
  /** Statements running longer are cancelled by the server (default 30 s; 0: none). */
  statementTimeoutMs?: number | undefined;
}

export class DatabaseUrlError extends Error {}

const TLS_MODES = new Set<TlsMode>(["disable", "require", "verify-ca", "verify-full"]);
const KNOWN_PARAMS = new Set(["sslmode", "host", "application_name"]);

export interface ParsedUrl {
  host: string;
  port: number;
  database: string;
  user: string | undefined;
  sslmode: TlsMode | undefined;
  applicationName: string | undefined;
  /** The URL as shown to people: no credentials. */
  display: string;
}

export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//i.test(url);
}

/** Parses a postgres:// URL; refuses one with a password or with parameters it does not know. */
export function parsePostgresUrl(url: string): ParsedUrl {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new DatabaseUrlError(
      "the database URL is not a URL: write postgres://USER@HOST:PORT/DATABASE",
    );
  }
  if (!isPostgresUrl(url)) {
    throw new DatabaseUrlError(
      `the database URL must start with postgres:// (or sqlite: for a file), not ${u.protocol}`,
    );
  }
  if (u.password) {
    throw new DatabaseUrlError(
      "the database URL holds a password: remove it, and give the password in AIRLOCK_DATABASE_PASSWORD or a file (database.password_file, AIRLOCK_DATABASE_PASSWORD_FILE)",
    );
  }
  const unknown = [...u.searchParams.keys()].filter((k) => !KNOWN_PARAMS.has(k));
  if (unknown.length > 0) {
    throw new DatabaseUrlError(
      `the database URL has parameters Airlock does not use: ${unknown.join(", ")} (known: ${[...KNOWN_PARAMS].join(", ")})`,
    );
  }
  const sslmode = u.searchParams.get("sslmode") ?? undefined;
  if (sslmode !== undefined && !TLS_MODES.has(sslmode as TlsMode)) {
    throw new DatabaseUrlError(
      `sslmode=${sslmode} is not supported: use ${[...TLS_MODES].join(", ")}`,
    );
  }
  const socketDir = u.searchParams.get("host") ?? undefined;
  const host = socketDir ?? decodeURIComponent(u.hostname);
  if (!host) throw new DatabaseUrlError("the database URL names no host");
  const port = u.port ? Number(u.port) : 5432;
  const database = decodeURIComponent(u.pathname.replace(/^\//, ""));
  if (!database) {
    throw new DatabaseUrlError("the database URL names no database: postgres://HOST/DATABASE");
  }
  const user = u.username ? decodeURIComponent(u.username) : undefined;
  const shownHost = host.startsWith("/") ? encodeURIComponent(host) : host;
  return {
    host,
    port,
    database,
    user,
    sslmode: sslmode as TlsMode | undefined,
    applicationName: u.searchParams.get("application_name") ?? undefined,
    display: `postgres://${user ? `${encodeURIComponent(user)}@` : ""}${shownHost}:${port}/${encodeURIComponent(database)}`,
  };
}

// BIGINT columns (times in ms, GitHub ids, counts) as numbers: every value Airlock stores is far
// below 2^53.
const INT8 = 20;

function tlsOf(o: PostgresOptions, url: ParsedUrl): pg.PoolConfig["ssl"] {
  const mode = o.tls?.mode ?? url.sslmode ?? "disable";
  if (mode === "disable") return false;
  const files = {
    ...(o.tls?.ca ? { ca: o.tls.ca } : {}),
    ...(o.tls?.cert ? { cert: o.tls.cert } : {}),
    ...(o.tls?.key ? { key: o.tls.key } : {}),
  };
  if (mode === "require") return { ...files, rejectUnauthorized: false };
  // verify-ca: the chain is checked, the name is not.
  if (mode === "verify-ca") return { ...files, checkServerIdentity: () => undefined };
  return files;
}

export interface PostgresHandle {
  db: Kysely<Database>;
  display: string;
  version(): Promise<string>;
}

export async function openPostgres(o: PostgresOptions): Promise<PostgresHandle> {
  const url = parsePostgresUrl(o.url);
  const statementTimeout = o.statementTimeoutMs ?? 30_000;
  // Loaded only here: a run on the data directory's SQLite file never needs the driver.
  const { default: pg } = await import("pg");
  const types = {
    getTypeParser: ((oid: number, format?: "text" | "binary") =>
      oid === INT8 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format)) as never,
  };
  const pool = new pg.Pool({
    host: url.host,
    port: url.port,
    database: url.database,
    ...(url.user ? { user: url.user } : {}),
    ...(o.password !== undefined ? { password: o.password } : {}),
    ssl: tlsOf(o, url),
    max: o.poolSize ?? 10,
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
    application_name: url.applicationName ?? "airlock",
    ...(statementTimeout > 0 ? { statement_timeout: statementTimeout } : {}),
    types,
  });
  // An idle connection the server drops (restart, failover) is an error of the pool, not of a
  // query: without a listener it would end the process (DESIGN.md invariant 11).
  pool.on("error", () => {});
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return {
    db,
    display: url.display,
    version: async () => {
      const r = await sql<{ v: string }>`SELECT current_setting('server_version') AS v`.execute(db);
      return `PostgreSQL ${r.rows[0]?.v.split(" ")[0] ?? "?"}`;
    },
  };
}
