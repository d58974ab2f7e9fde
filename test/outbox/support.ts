// Shared set-up for the gateway tests: a real SQLite database in a fresh temp directory with the
// outbox, approvals and audit tables, and a GitHub client pointed at the GitHub test double.
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import SQLite from "better-sqlite3";
import { Kysely, type Migration, Migrator, SqliteDialect } from "kysely";
import { AppAuth } from "../../src/forge/github/app-auth.js";
import { GitHubClient } from "../../src/forge/github/client.js";
import { GitHubHttp } from "../../src/forge/github/http.js";
import * as m003 from "../../src/store/migrations/003_audit.js";
import * as m005 from "../../src/store/migrations/005_outbox.js";
import * as m006 from "../../src/store/migrations/006_approvals.js";
import * as m009 from "../../src/store/migrations/009_check_run_status.js";
import type { GitHubDouble } from "../doubles/github.js";

export interface TestDb {
  dir: string;
  sqlite: SQLite.Database;
  close(): Promise<void>;
}

/** Opens (or reopens, given `dir`) a database with this feature's migrations applied. */
export async function openTestDb(dir = mkdtempSync(path.join(os.tmpdir(), "airlock-gw-"))) {
  const sqlite = new SQLite(path.join(dir, "airlock.db"));
  sqlite.pragma("journal_mode = WAL");
  const db = new Kysely<unknown>({ dialect: new SqliteDialect({ database: sqlite }) });
  const migrations: Record<string, Migration> = {
    "003_audit": m003,
    "005_outbox": m005,
    "006_approvals": m006,
    "009_check_run_status": m009,
  };
  const { error } = await new Migrator({
    db,
    provider: { getMigrations: async () => migrations },
  }).migrateToLatest();
  if (error) throw error;
  return {
    dir,
    sqlite,
    // Closing the Kysely instance closes the better-sqlite3 handle too.
    close: () => db.destroy(),
  } satisfies TestDb;
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** A client for installation `installationId` of the double's app. */
export function clientFor(
  gh: GitHubDouble,
  installationId = 1,
  opts: { fetch?: typeof fetch; now?: () => number } = {},
) {
  const http = new GitHubHttp({ baseUrl: gh.url, fetch: opts.fetch });
  const auth = new AppAuth(http, gh.appId, gh.privateKey!, { now: opts.now });
  return { http, auth, client: new GitHubClient(http, auth.installation(installationId)) };
}

export const sha = (c: string) => c.repeat(40).slice(0, 40);
