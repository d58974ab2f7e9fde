// Facts about the local git checkout that `airlock run` runs: root, commit, branch, files.

import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { FileTooLargeError } from "../forge/types.js";
import { UserError } from "./errors.js";

const exec = promisify(execFile);

async function git(cwd: string, ...args: string[]): Promise<string> {
  const { stdout } = await exec("git", args, { cwd, maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

export interface LocalRepo {
  root: string;
  /** The project directory relative to the repository root ("" at the root). */
  subdir: string;
  sha: string;
  branch: string | null;
  name: string;
  dirty: boolean;
}

export async function inspectRepo(dir: string): Promise<LocalRepo> {
  let root: string;
  try {
    root = (await git(dir, "rev-parse", "--show-toplevel")).trim();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new UserError("git is not installed: apt-get install -y git");
    throw new UserError(
      `${dir} is not inside a git repository: airlock run runs a commit (git init; git commit)`,
    );
  }
  let sha: string;
  try {
    sha = (await git(root, "rev-parse", "--verify", "HEAD^{commit}")).trim();
  } catch {
    throw new UserError(
      `the repository at ${root} has no commit yet: commit your work first, or use --dirty`,
    );
  }
  const branch =
    (await git(root, "symbolic-ref", "--short", "-q", "HEAD").catch(() => "")).trim() || null;
  const dirty = (await git(root, "status", "--porcelain", "--untracked-files=no")).trim() !== "";
  return {
    root,
    subdir: path.relative(root, path.resolve(dir)),
    sha,
    branch,
    name: path.basename(root),
    dirty,
  };
}

/**
 * A file's content at a commit, or null when the commit does not have it. Over `maxBytes`, it is
 * refused with FileTooLargeError before it is read.
 */
export async function readAtCommit(
  repo: LocalRepo,
  file: string,
  opts: { maxBytes?: number } = {},
): Promise<string | null> {
  const rel = path.posix.join(repo.subdir.split(path.sep).join("/"), file);
  let size: number;
  try {
    size = Number((await git(repo.root, "cat-file", "-s", `${repo.sha}:${rel}`)).trim());
  } catch {
    return null;
  }
  if (opts.maxBytes !== undefined && size > opts.maxBytes) throw new FileTooLargeError(file, size);
  try {
    return await git(repo.root, "show", `${repo.sha}:${rel}`);
  } catch {
    return null;
  }
}
