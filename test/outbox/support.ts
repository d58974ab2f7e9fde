// Shared set-up for the gateway tests: a real store (SQLite) in a fresh temp directory, and a GitHub client pointed at the GitHub test double.
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { AppAuth } from "../../src/forge/github/app-auth.js";
import { GitHubClient } from "../../src/forge/github/client.js";
import { GitHubHttp } from "../../src/forge/github/http.js";
import { type OpenedStore, openStore } from "../../src/store/index.js";
import type { GitHubDouble } from "../doubles/github.js";

export interface TestDb {
  dir: string;
  store: OpenedStore;
  close(): Promise<void>;
}

/** Opens (or reopens, given `dir`) the store of a data directory. */
export async function openTestDb(
  dir = mkdtempSync(path.join(os.tmpdir(), "airlock-gw-")),
): Promise<TestDb> {
  const store = await openStore({ dataDir: dir });
  return { dir, store, close: () => store.close() };
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
