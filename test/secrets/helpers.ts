// Test helpers: a throwaway data directory whose database has the secrets and audit tables.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { PassThrough, Readable } from "node:stream";
import SQLite from "better-sqlite3";
import { Command } from "commander";
import type { CliIo } from "../../src/cli/commands/common.js";
import { type OpenedStore, openStore } from "../../src/store/index.js";

/** Opens <dataDir>'s store (the data directory's SQLite file), migrated. */
export function openTestDb(dataDir: string): Promise<OpenedStore> {
  return openStore({ dataDir });
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
    openStore: openTestDb,
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

const raw = new Map<string, SQLite.Database>();

/**
 * A second, plain connection to a store's SQLite file, for tests that tamper with what is stored
 * or read it as an attacker with a copy of the file would. Statements on it run at once, outside
 * the store's transactions.
 */
export function rawSqlite(s: OpenedStore): SQLite.Database {
  if (s.engine !== "sqlite") throw new Error("rawSqlite needs a SQLite store");
  const file = s.location.slice("sqlite:".length);
  let db = raw.get(file);
  if (!db?.open) {
    db = new SQLite(file);
    db.pragma("busy_timeout = 5000");
    raw.set(file, db);
  }
  return db;
}
