// Real git repositories for the suite and mirror tests: bare repositories on disk, served
// over file:// and over git's smart HTTP (git http-backend as CGI) on loopback.
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";

const GIT_ENV = {
  ...process.env,
  GIT_AUTHOR_NAME: "Test",
  GIT_AUTHOR_EMAIL: "test@example.com",
  GIT_COMMITTER_NAME: "Test",
  GIT_COMMITTER_EMAIL: "test@example.com",
  GIT_CONFIG_NOSYSTEM: "1",
  GIT_CONFIG_GLOBAL: "/dev/null",
};

export function git(cwd: string, args: string[], input?: string): string {
  return execFileSync("git", args, { cwd, env: GIT_ENV, input, encoding: "utf8" }).trim();
}

/** A bare repository at `dir` with one commit per branch (content names the branch). */
export function makeBareRepo(dir: string, branches: string[]): Record<string, string> {
  mkdirSync(dir, { recursive: true });
  git(dir, ["init", "-q", "--bare"]);
  const shas: Record<string, string> = {};
  for (const name of branches) shas[name] = commitOn(dir, name, `suite for ${name}\n`);
  return shas;
}

/** Adds a commit (with `content` in README) on top of `branch` (created if absent). */
export function commitOn(dir: string, branch: string, content: string): string {
  const blob = git(dir, ["hash-object", "-w", "--stdin"], content);
  const tree = git(dir, ["mktree"], `100644 blob ${blob}\tREADME\n`);
  let parent: string[] = [];
  try {
    parent = ["-p", git(dir, ["rev-parse", "--verify", "-q", `refs/heads/${branch}`])];
  } catch {
    parent = [];
  }
  const sha = git(dir, ["commit-tree", tree, ...parent, "-m", `commit on ${branch}`]);
  git(dir, ["update-ref", `refs/heads/${branch}`, sha]);
  return sha;
}

export const HTTP_BACKEND = "/usr/lib/git-core/git-http-backend";

export interface GitHttpServer {
  /** Base URL; a repository `x.git` under the root is `${url}/x.git`. */
  url: string;
  /** Authorization headers the server received (to prove credentials travelled). */
  authorizations: string[];
  close(): Promise<void>;
}

/**
 * Serves `root` over smart HTTP. Repositories under `private/` need Basic auth with `token`
 * (any username); authenticated requests may push (git http-backend enables receive-pack
 * when REMOTE_USER is set).
 */
export async function serveGitHttp(root: string, token?: string): Promise<GitHttpServer> {
  if (!existsSync(HTTP_BACKEND))
    throw new Error(`${HTTP_BACKEND} is missing: apt-get install -y git`);
  const authorizations: string[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const pathInfo = decodeURIComponent(url.pathname);
    let user = "";
    const authz = req.headers.authorization;
    if (authz) authorizations.push(authz);
    if (authz?.startsWith("Basic ") && token) {
      const [u, ...rest] = Buffer.from(authz.slice(6), "base64").toString().split(":");
      if (rest.join(":") === token) user = u || "user";
    }
    if (pathInfo.startsWith("/private/") && !user) {
      res.writeHead(401, { "WWW-Authenticate": 'Basic realm="test"' }).end();
      return;
    }
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      GIT_PROJECT_ROOT: root,
      GIT_HTTP_EXPORT_ALL: "1",
      GIT_CONFIG_NOSYSTEM: "1",
      GIT_CONFIG_GLOBAL: "/dev/null",
      REQUEST_METHOD: req.method ?? "GET",
      PATH_INFO: pathInfo,
      QUERY_STRING: url.search.slice(1),
      CONTENT_TYPE: req.headers["content-type"] ?? "",
      REMOTE_ADDR: "127.0.0.1",
      ...(user ? { REMOTE_USER: user } : {}),
      ...(req.headers["git-protocol"] ? { GIT_PROTOCOL: String(req.headers["git-protocol"]) } : {}),
      ...(req.headers["content-encoding"]
        ? { HTTP_CONTENT_ENCODING: String(req.headers["content-encoding"]) }
        : {}),
    };
    const cgi = spawn(HTTP_BACKEND, [], { env, stdio: ["pipe", "pipe", "ignore"] });
    req.pipe(cgi.stdin);
    let head = Buffer.alloc(0);
    let headersDone = false;
    cgi.stdout.on("data", (chunk: Buffer) => {
      if (headersDone) {
        res.write(chunk);
        return;
      }
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) return;
      headersDone = true;
      let status = 200;
      const headers: Record<string, string> = {};
      for (const line of head.subarray(0, end).toString().split("\r\n")) {
        const i = line.indexOf(":");
        const k = line.slice(0, i).trim();
        const v = line.slice(i + 1).trim();
        if (k.toLowerCase() === "status") status = Number.parseInt(v, 10);
        else headers[k] = v;
      }
      res.writeHead(status, headers);
      res.write(head.subarray(end + 4));
    });
    cgi.on("close", () => {
      if (!headersDone) res.writeHead(500);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    authorizations,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export const fileUrl = (dir: string) => `file://${path.resolve(dir)}`;
