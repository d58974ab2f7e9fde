// Test helpers: a throwaway data directory whose database has the secrets and audit tables.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { PassThrough, Readable } from "node:stream";
import SQLite from "better-sqlite3";
import { Command } from "commander";
import { Kysely, type Migration, Migrator, SqliteDialect } from "kysely";
import type { CliIo } from "../../src/cli/commands/secrets.js";
import type { OpenedDb } from "../../src/store/db.js";
import * as m002 from "../../src/store/migrations/002_secrets.js";
import * as m003 from "../../src/store/migrations/003_audit.js";
import { migrations } from "../../src/store/migrations/index.js";

/** Opens <dataDir>/airlock.db as openDb does, with this feature's migrations whether or not they are wired yet. */
export async function openTestDb(dataDir: string): Promise<OpenedDb> {
  const sqlite = new SQLite(path.join(dataDir, "airlock.db"));
  sqlite.pragma("journal_mode = WAL");
  sqlite.pragma("foreign_keys = ON");
  sqlite.pragma("busy_timeout = 5000");
  // biome-ignore lint/suspicious/noExplicitAny: the test needs no table types
  const db = new Kysely<any>({ dialect: new SqliteDialect({ database: sqlite }) });
  const all: Record<string, Migration> = {
    ...migrations,
    "002_secrets": m002,
    "003_audit": m003,
  };
  const { error } = await new Migrator({
    db,
    provider: { getMigrations: async () => all },
  }).migrateToLatest();
  if (error) throw error;
  return { db, sqlite, close: () => db.destroy() };
}

export interface TempDir {
  dir: string;
  cleanup(): void;
}

export function tempDataDir(): TempDir {
  const dir = mkdtempSync(path.join(tmpdir(), "airlock-secrets-"));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A hex master key for AIRLOCK_MASTER_KEY. */
export const hexKey = (byte: number): string => Buffer.alloc(32, byte).toString("hex");

/**
 * Runs CLI commands in-process against `dataDir` (and the project `-C project`): `register` adds
 * them to a fresh program, `input` is stdin (a pipe, not a terminal). Returns what they wrote; a
 * thrown error carries what was written before it.
 */
export async function runInProcess(
  register: ((program: Command, io: Partial<CliIo>) => void)[],
  args: string[],
  o: { dataDir: string; env?: NodeJS.ProcessEnv; input?: string; project?: string },
): Promise<{ out: string; err: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = "";
  let err = "";
  stdout.on("data", (c) => (out += c));
  stderr.on("data", (c) => (err += c));
  const io = {
    stdin: Readable.from([Buffer.from(o.input ?? "")]),
    stdout,
    stderr,
    env: o.env ?? {},
    openDb: openTestDb,
  };
  const program = new Command("airlock").version("0.1.0").exitOverride();
  program.configureOutput({ writeOut: (s) => (out += s), writeErr: (s) => (err += s) });
  for (const r of register) r(program, io);
  const project = o.project ? ["-C", o.project] : [];
  try {
    await program.parseAsync(["node", "airlock", ...args, ...project, "--data-dir", o.dataDir]);
  } catch (e) {
    // What was printed before the error, for the tests that check partial output.
    if (e instanceof Error) Object.assign(e, { out, err });
    throw e;
  }
  return { out, err };
}
