// Mirrors a pull request's exact head commit to an internal branch (`airlock/pr-N`) for teams
// whose policy wants one, and deletes it when the pull request closes.
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { displayUrl, type GitAuth, gitReason, runGit } from "./git.js";
import { assertBranchName, isFullSha } from "./refname.js";
import { lsRemoteExact } from "./resolve.js";

export const DEFAULT_MIRROR_TEMPLATE = "airlock/pr-{pr}";

export class MirrorError extends Error {}

/** Where mirrored heads go: the `mirror.remote` URL, or the suite's URL for `remote: suite`. */
export function mirrorRemote(config: {
  mirror?: { remote: string } | undefined;
  suite?: { url: string } | undefined;
}): string {
  const mirror = config.mirror;
  if (!mirror) {
    throw new MirrorError(
      "no `mirror:` section in .airlock.yml: add `mirror: { remote: suite }` (or a git URL) to enable it",
    );
  }
  if (mirror.remote !== "suite") return mirror.remote;
  if (!config.suite) {
    throw new MirrorError("mirror.remote is `suite` but .airlock.yml has no `suite:` section");
  }
  return config.suite.url;
}

/** The branch for pull request `pr`; the template must contain `{pr}`. */
export function mirrorBranchName(template: string, pr: number): string {
  if (!Number.isSafeInteger(pr) || pr <= 0) {
    throw new MirrorError(`pull request number ${pr} is not a positive integer`);
  }
  if (!template.includes("{pr}")) {
    // Without the number every PR would share, and overwrite, one branch.
    throw new MirrorError(`mirror branch template ${JSON.stringify(template)} must contain {pr}`);
  }
  const name = template.replaceAll("{pr}", String(pr));
  try {
    return assertBranchName(name, "mirror branch");
  } catch (e) {
    throw new MirrorError((e as Error).message);
  }
}

export interface MirrorPush {
  /** Where the commit is fetched from: a URL or a local repository path. */
  source: string;
  sha: string;
  /** Where it is pushed. */
  remote: string;
  branch: string;
  auth?: GitAuth[];
  signal?: AbortSignal;
  git?: string;
}

/** Pushes exactly `sha` to `refs/heads/<branch>` of `remote` (forced: the PR may be rewritten). */
export async function pushMirror(req: MirrorPush): Promise<{ branch: string; sha: string }> {
  if (!isFullSha(req.sha))
    throw new MirrorError(`${JSON.stringify(req.sha)} is not a full commit SHA`);
  const branch = assertBranchNameOr(req.branch);
  const work = await mkdtemp(path.join(os.tmpdir(), "airlock-mirror-"));
  const opts = {
    ...(req.auth ? { auth: req.auth } : {}),
    ...(req.signal ? { signal: req.signal } : {}),
    ...(req.git ? { git: req.git } : {}),
    cwd: work,
  };
  try {
    const init = await runGit(["init", "-q", "--bare"], opts);
    if (init.code !== 0)
      throw new MirrorError(`cannot prepare the mirror: ${gitReason(init.stderr)}`);
    // Full history: a shallow clone cannot push to a remote that lacks the parents.
    const fetched = await runGit(["fetch", "-q", "--no-tags", "--", req.source, req.sha], opts);
    if (fetched.code !== 0) {
      throw new MirrorError(
        `cannot fetch ${req.sha} from ${displayUrl(req.source)}: ${gitReason(fetched.stderr)}`,
      );
    }
    const pushed = await runGit(
      ["push", "-q", "--force", "--", req.remote, `${req.sha}:refs/heads/${branch}`],
      opts,
    );
    if (pushed.code !== 0) {
      throw new MirrorError(
        `cannot push ${branch} to ${displayUrl(req.remote)}: ${gitReason(pushed.stderr)}`,
      );
    }
    return { branch, sha: req.sha };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

export interface MirrorDelete {
  remote: string;
  branch: string;
  auth?: GitAuth[];
  signal?: AbortSignal;
  git?: string;
}

/** Deletes the mirror branch; false when it did not exist (closing twice is harmless). */
export async function deleteMirror(req: MirrorDelete): Promise<boolean> {
  const branch = assertBranchNameOr(req.branch);
  const opts = {
    ...(req.auth ? { auth: req.auth } : {}),
    ...(req.signal ? { signal: req.signal } : {}),
    ...(req.git ? { git: req.git } : {}),
  };
  const ref = `refs/heads/${branch}`;
  const exists = await lsRemoteExact(req.remote, [ref], opts).catch((e: Error) => {
    throw new MirrorError(e.message);
  });
  if (!exists.has(ref)) return false;
  const r = await runGit(["push", "-q", "--", req.remote, `:${ref}`], opts);
  if (r.code !== 0) {
    throw new MirrorError(
      `cannot delete ${branch} from ${displayUrl(req.remote)}: ${gitReason(r.stderr)}`,
    );
  }
  return true;
}

function assertBranchNameOr(name: string): string {
  try {
    return assertBranchName(name, "mirror branch");
  } catch (e) {
    throw new MirrorError((e as Error).message);
  }
}
