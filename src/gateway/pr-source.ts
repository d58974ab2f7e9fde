// Fetches a pull request's code at its exact head commit into a mirror per repository, under
// the data directory. `refs/pull/N/head` lives in the base repository for fork PRs too. git runs
// from argv arrays, never a shell; the repository name and PR number are checked before they form a
// URL or a ref (DESIGN.md invariant 8); the installation token reaches git through GIT_CONFIG_*
// environment variables, never argv, and the fetched SHA must equal the head that was decided on.

import { execFile } from "node:child_process";
import { mkdir, stat } from "node:fs/promises";
import path from "node:path";
import type { CheckoutSource } from "../executors/types.js";
import { FileTooLargeError } from "../forge/types.js";

const REPO_PART = /^[A-Za-z0-9_.-]{1,100}$/;
const SHA = /^[0-9a-f]{40}$/;
const GIT_TIMEOUT_MS = 10 * 60_000;
/** Files kept in memory: the newest few hundred, each at most this size. */
const KEEP_FILES = 256;
const KEEP_FILE_BYTES = 256 << 10;

export class PrSourceError extends Error {}

/** The head moved on between the decision and the fetch: a newer event will handle the new head. */
export class HeadMovedError extends PrSourceError {}

export interface PrSourceOptions {
  /** Mirrors live in `<dataDir>/mirrors/<owner>/<repo>`. */
  dataDir: string;
  /**
   * Where repositories are cloned from: "https://github.com", an Enterprise host, or (tests) a
   * file:// URL. `<base>/<owner>/<repo>.git` is fetched.
   */
  cloneBaseUrl: string;
  /** An installation token for https fetches (private repositories); undefined for none. */
  token?: (installationId: number) => Promise<string | undefined>;
}

export interface FetchRequest {
  /** "owner/name" of the base repository. */
  repo: string;
  pr: number;
  /** The head SHA the decision was made for. */
  sha: string;
  installationId: number;
}

/** "owner/name", each part a plain GitHub name: never ".", "..", a slash or a URL character. */
export function checkRepoName(fullName: string): { owner: string; name: string } {
  const parts = fullName.split("/");
  const [owner, name] = parts;
  const ok = (p: string | undefined): p is string =>
    p !== undefined && REPO_PART.test(p) && p !== "." && p !== ".." && !p.endsWith(".git");
  if (parts.length !== 2 || !ok(owner) || !ok(name)) {
    throw new PrSourceError(`not a repository name: ${JSON.stringify(fullName.slice(0, 200))}`);
  }
  return { owner, name };
}

export class PrSource {
  private readonly base: URL;
  /** One git process per mirror at a time: concurrent fetches would fight over its lock files. */
  private readonly locks = new Map<string, Promise<unknown>>();
  /**
   * "dir@sha" of commits this process pinned under refs/airlock/sha/ (nothing removes a pin), so
   * that every event about a head after the first needs no git process to know it is there.
   */
  private readonly pinned = new Set<string>();
  /** A commit's files never change: "dir@sha:path" -> its size, and its text unless too large. */
  private readonly files = new Map<string, { size: number; text?: string }>();

  constructor(private readonly opts: PrSourceOptions) {
    let u: URL;
    try {
      u = new URL(opts.cloneBaseUrl);
    } catch {
      throw new PrSourceError(`the clone base URL is not a URL: ${opts.cloneBaseUrl}`);
    }
    if (!["https:", "http:", "file:"].includes(u.protocol) || u.username || u.password) {
      throw new PrSourceError(
        "the clone base URL must be https://HOST (or file:// for local mirrors) without credentials",
      );
    }
    this.base = u;
  }

  mirrorDir(fullName: string): string {
    const { owner, name } = checkRepoName(fullName);
    return path.join(this.opts.dataDir, "mirrors", owner, name);
  }

  cloneUrl(fullName: string): string {
    const { owner, name } = checkRepoName(fullName);
    const base = this.base.href.replace(/\/+$/, "");
    return `${base}/${encodeURIComponent(owner)}/${encodeURIComponent(name)}.git`;
  }

  /** Makes sure the mirror holds the PR's head commit `sha`, and returns it as a checkout source. */
  async fetch(req: FetchRequest): Promise<CheckoutSource & { kind: "commit" }> {
    if (!SHA.test(req.sha)) throw new PrSourceError(`not a full commit SHA: ${req.sha}`);
    if (!Number.isSafeInteger(req.pr) || req.pr <= 0) {
      throw new PrSourceError(`not a pull request number: ${req.pr}`);
    }
    const dir = this.mirrorDir(req.repo);
    const pin = `${dir}@${req.sha}`;
    if (this.pinned.has(pin)) return { kind: "commit" as const, repoDir: dir, sha: req.sha };
    return this.locked(dir, async () => {
      await this.ensureMirror(dir);
      if (!(await this.hasCommit(dir, req.sha))) {
        const env = await this.fetchEnv(req.installationId);
        const ref = `refs/airlock/pr/${req.pr}`;
        await git(
          dir,
          [
            "fetch",
            "--no-tags",
            "--no-recurse-submodules",
            "--quiet",
            "--",
            this.cloneUrl(req.repo),
            `+refs/pull/${req.pr}/head:${ref}`,
          ],
          env,
        );
        const got = (await git(dir, ["rev-parse", "--verify", `${ref}^{commit}`])).trim();
        if (got !== req.sha && !(await this.hasCommit(dir, req.sha))) {
          throw new HeadMovedError(
            `pull request #${req.pr} is at ${got.slice(0, 12)} now, not ${req.sha.slice(0, 12)}`,
          );
        }
      }
      // Keep the commit reachable, so that a later fetch (a newer head) cannot prune it mid-run.
      await git(dir, ["update-ref", `refs/airlock/sha/${req.sha}`, req.sha]);
      if (this.pinned.size >= 10_000) this.pinned.clear();
      this.pinned.add(pin);
      return { kind: "commit" as const, repoDir: dir, sha: req.sha };
    });
  }

  /**
   * A file's text at a commit already in the mirror, or undefined when the commit lacks it.
   * Rejects with FileTooLargeError, without reading it, when it is over `maxBytes`.
   */
  async fileAt(
    fullName: string,
    sha: string,
    file: string,
    opts: { maxBytes?: number } = {},
  ): Promise<string | undefined> {
    if (!SHA.test(sha)) throw new PrSourceError(`not a full commit SHA: ${sha}`);
    if (file.startsWith("/") || file.split("/").some((p) => p === ".." || p === "")) {
      throw new PrSourceError(`not a repository path: ${file}`);
    }
    const dir = this.mirrorDir(fullName);
    const key = `${dir}@${sha}:${file}`;
    const { maxBytes } = opts;
    let known: { size: number; text?: string } | null | undefined = this.files.get(key);
    // A file kept by its size alone (too large then) is read if this caller takes larger ones.
    if (
      !known ||
      (known.text === undefined && (maxBytes ?? Number.POSITIVE_INFINITY) >= known.size)
    ) {
      known = await this.readFile(dir, `${sha}:${file}`, maxBytes);
      // "No such file" is not kept: git may have failed for another reason.
      if (known !== null && known.size <= KEEP_FILE_BYTES) {
        if (this.files.size >= KEEP_FILES) this.files.delete(this.files.keys().next().value!);
        this.files.set(key, known);
      }
    }
    if (known === null) return undefined;
    if (known.text === undefined || (maxBytes !== undefined && known.size > maxBytes)) {
      throw new FileTooLargeError(file, known.size);
    }
    return known.text;
  }

  /** A blob's size, and its text unless it is over `maxBytes`; null when there is none. */
  private async readFile(
    dir: string,
    object: string,
    maxBytes: number | undefined,
  ): Promise<{ size: number; text?: string } | null> {
    let size: number;
    try {
      size = Number((await git(dir, ["cat-file", "-s", object])).trim());
    } catch {
      return null;
    }
    if (maxBytes !== undefined && size > maxBytes) return { size };
    return { size, text: await git(dir, ["cat-file", "blob", object]) };
  }

  private async ensureMirror(dir: string): Promise<void> {
    try {
      await stat(path.join(dir, ".git", "HEAD"));
      return;
    } catch {
      // not yet made
    }
    await mkdir(dir, { recursive: true, mode: 0o700 });
    // Not bare, though nothing is ever checked out here: workspaces are materialised from it with
    // checkout-index, which needs a repository with a work tree.
    await git(dir, ["init", "--quiet"]);
  }

  private async hasCommit(dir: string, sha: string): Promise<boolean> {
    try {
      await git(dir, ["cat-file", "-e", `${sha}^{commit}`]);
      return true;
    } catch {
      return false;
    }
  }

  /** The token goes in an http.extraHeader for this host only, through the environment. */
  private async fetchEnv(installationId: number): Promise<Record<string, string>> {
    const env: Record<string, string> = {
      GIT_ALLOW_PROTOCOL: this.base.protocol.replace(":", ""),
    };
    if (this.base.protocol !== "https:" || !this.opts.token) return env;
    const token = await this.opts.token(installationId);
    if (!token) return env;
    const basic = Buffer.from(`x-access-token:${token}`).toString("base64");
    return {
      ...env,
      GIT_CONFIG_COUNT: "1",
      GIT_CONFIG_KEY_0: `http.${this.base.origin}/.extraHeader`,
      GIT_CONFIG_VALUE_0: `Authorization: Basic ${basic}`,
    };
  }

  private locked<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(key) ?? Promise.resolve();
    const next = prev.catch(() => {}).then(fn);
    this.locks.set(key, next);
    next
      .finally(() => {
        if (this.locks.get(key) === next) this.locks.delete(key);
      })
      .catch(() => {});
    return next;
  }
}

/** git with a clean environment: no user or system config, no prompts, no inherited GIT_*. */
function git(dir: string, args: string[], extra: Record<string, string> = {}): Promise<string> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: dir,
    LANG: "C",
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_GLOBAL: "/dev/null",
    GIT_TERMINAL_PROMPT: "0",
    GIT_ASKPASS: "/bin/false",
    ...extra,
  };
  return new Promise((resolve, reject) => {
    execFile(
      "git",
      ["-C", dir, ...args],
      { env, maxBuffer: 16 << 20, timeout: GIT_TIMEOUT_MS, encoding: "utf8" },
      (err, out, stderr) => {
        if (!err) return resolve(out);
        const first = String(stderr).trim().split("\n")[0] ?? "";
        // The token never appears in stderr (it is in a header), but the URL's host may: fine.
        reject(new PrSourceError(`git ${args[0]} failed: ${first || err.message}`));
      },
    );
  });
}
