// Runs git for the suite and mirror features: argv arrays only (never a shell), a hermetic
// environment, and credentials handed over through environment variables, never argv or a file.
import { execFile } from "node:child_process";
import os from "node:os";

/** Credentials for one remote; `token` is a secret. */
export interface GitAuth {
  /** The remote URL the credentials are for; they are scoped to its origin. */
  url: string;
  username?: string;
  token: string;
}

export class GitError extends Error {
  constructor(
    message: string,
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(message);
  }
}

export interface GitRunOptions {
  cwd?: string;
  auth?: GitAuth[];
  signal?: AbortSignal;
  timeoutMs?: number;
  /** The git binary (tests wrap it to observe argv). */
  git?: string;
}

export interface GitResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Username used when a secret set gives only GIT_TOKEN (GitHub and GitLab accept any). */
export const DEFAULT_GIT_USERNAME = "oauth2";

/** Reads GIT_TOKEN / GIT_USERNAME from a secret set's granted environment. */
export function authFromSecretEnv(url: string, env: Record<string, string>): GitAuth {
  const token = env.GIT_TOKEN;
  if (!token) {
    throw new Error(
      "the credentials secret set has no GIT_TOKEN: add it (and optionally GIT_USERNAME)",
    );
  }
  return { url, token, ...(env.GIT_USERNAME ? { username: env.GIT_USERNAME } : {}) };
}

/** The origin ("scheme://host[:port]/") of an http(s) URL, or null for other transports. */
function httpOrigin(url: string): string | null {
  try {
    const u = new URL(url);
    if (u.protocol !== "http:" && u.protocol !== "https:") return null;
    return `${u.protocol}//${u.host}/`;
  } catch {
    return null;
  }
}

/**
 * The environment for a git child. Git reads GIT_CONFIG_COUNT/KEY_n/VALUE_n as if they were
 * `-c` options, which keeps the Authorization header out of argv (visible in `ps`) and off disk.
 */
export function gitEnv(auth: GitAuth[] = []): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: process.env.HOME ?? os.tmpdir(),
    LANG: "C",
    LC_ALL: "C",
    // Never prompt, never read the user's or the system's git configuration (credential
    // helpers, insteadOf rewrites): what runs is exactly what is written here.
    GIT_TERMINAL_PROMPT: "0",
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_GLOBAL: "/dev/null",
    GIT_ALLOW_PROTOCOL: "file:git:http:https:ssh",
  };
  if (process.env.SSH_AUTH_SOCK) env.SSH_AUTH_SOCK = process.env.SSH_AUTH_SOCK;
  const entries: [string, string][] = [];
  for (const a of auth) {
    const origin = httpOrigin(a.url);
    if (!origin) {
      throw new Error(
        "credentials are only supported for http(s) URLs; use an ssh agent for ssh URLs",
      );
    }
    const basic = Buffer.from(`${a.username ?? DEFAULT_GIT_USERNAME}:${a.token}`).toString(
      "base64",
    );
    entries.push([`http.${origin}.extraHeader`, `Authorization: Basic ${basic}`]);
  }
  env.GIT_CONFIG_COUNT = String(entries.length);
  entries.forEach(([k, v], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = k;
    env[`GIT_CONFIG_VALUE_${i}`] = v;
  });
  return env;
}

/** Hides userinfo in a URL shown in a message. */
export function displayUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, "$1***@");
}

/** Runs git; resolves with the exit code (non-zero included) unless git could not start. */
export function runGit(args: string[], opts: GitRunOptions = {}): Promise<GitResult> {
  const env = gitEnv(opts.auth);
  return new Promise((resolve, reject) => {
    execFile(
      opts.git ?? "git",
      args,
      {
        cwd: opts.cwd,
        env,
        maxBuffer: 64 * 1024 * 1024,
        timeout: opts.timeoutMs ?? 5 * 60_000,
        ...(opts.signal ? { signal: opts.signal } : {}),
      },
      (err, stdout, stderr) => {
        if (err && typeof (err as NodeJS.ErrnoException).code === "string") {
          const code = (err as NodeJS.ErrnoException).code;
          if (code === "ENOENT") {
            reject(new GitError("git is not installed: apt-get install -y git", null, ""));
            return;
          }
          if (code === "ABORT_ERR") {
            reject(new GitError("git was cancelled", null, String(stderr)));
            return;
          }
        }
        if (err && (err as { killed?: boolean }).killed) {
          reject(new GitError("git took too long and was stopped", null, String(stderr)));
          return;
        }
        const code = err ? Number((err as { code?: unknown }).code ?? 1) : 0;
        resolve({
          code: Number.isFinite(code) ? code : 1,
          stdout: String(stdout),
          stderr: String(stderr),
        });
      },
    );
  });
}

/** The last meaningful line of git's stderr, for a one-line error message. */
export function gitReason(stderr: string): string {
  // Git asks for a username when the server wants credentials and prompts are off.
  if (/could not read Username|Authentication failed|HTTP Basic: Access denied/.test(stderr)) {
    return "the server asks for credentials: name a secret set holding GIT_TOKEN in `credentials`, or check that token";
  }
  const lines = stderr
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("hint:"));
  const fatal = lines.find((l) => l.startsWith("fatal:") || l.startsWith("error:"));
  return (fatal ?? lines.at(-1) ?? "no message").replace(/^(fatal|error): /, "");
}
