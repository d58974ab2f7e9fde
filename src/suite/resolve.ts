// Which commit of the companion suite a run uses: the suite's branch named exactly like the
// run's branch when `match_branch` is on and that branch exists, else the default ref.
import { displayUrl, type GitAuth, GitError, gitReason, runGit } from "./git.js";
import { assertBranchName, isFullSha, refNameProblem } from "./refname.js";

export interface SuiteSource {
  url: string;
  /** Default ref: a branch, a tag or a full commit SHA. */
  ref: string;
  match_branch: boolean;
}

export interface SuiteResolution {
  url: string;
  /** The branch, tag or SHA the suite is taken from (recorded on the run: AIRLOCK_SUITE_REF). */
  ref: string;
  /** The commit (AIRLOCK_SUITE_SHA). */
  sha: string;
  /** True when the run's branch matched a suite branch. */
  matched: boolean;
}

export class SuiteError extends Error {}

export interface SuiteGitOptions {
  auth?: GitAuth[];
  signal?: AbortSignal;
  git?: string;
}

/** `git ls-remote` for exact ref names; returns refname → sha for the names that exist. */
export async function lsRemoteExact(
  url: string,
  refs: string[],
  opts: SuiteGitOptions = {},
): Promise<Map<string, string>> {
  // ls-remote patterns match ref-name tails (and globs), so "refs/heads/x" would also list
  // "refs/heads/y/refs/heads/x": the output is filtered to exact names below.
  const r = await runGit(["ls-remote", "--exit-code", "--", url, ...refs], opts);
  const found = new Map<string, string>();
  if (r.code === 2) return found; // no matching ref
  if (r.code !== 0) {
    throw new SuiteError(`cannot list refs of ${displayUrl(url)}: ${gitReason(r.stderr)}`);
  }
  const wanted = new Set(refs);
  for (const line of r.stdout.split("\n")) {
    const tab = line.indexOf("\t");
    if (tab < 0) continue;
    const sha = line.slice(0, tab);
    const name = line.slice(tab + 1);
    if (wanted.has(name) && isFullSha(sha)) found.set(name, sha);
  }
  return found;
}

/** Resolves the suite for a run on `branch` (null: not on a branch). */
export async function resolveSuite(
  suite: SuiteSource,
  branch: string | null,
  opts: SuiteGitOptions = {},
): Promise<SuiteResolution> {
  try {
    if (suite.match_branch && branch !== null) {
      assertBranchName(branch);
      const ref = `refs/heads/${branch}`;
      const sha = (await lsRemoteExact(suite.url, [ref], opts)).get(ref);
      if (sha) return { url: suite.url, ref: branch, sha, matched: true };
    }
    return { ...(await resolveDefault(suite, opts)), matched: false };
  } catch (e) {
    if (e instanceof GitError) throw new SuiteError(`suite repository: ${e.message}`);
    if (e instanceof Error && !(e instanceof SuiteError)) throw new SuiteError(e.message);
    throw e;
  }
}

async function resolveDefault(
  suite: SuiteSource,
  opts: SuiteGitOptions,
): Promise<{ url: string; ref: string; sha: string }> {
  const ref = suite.ref;
  if (isFullSha(ref)) return { url: suite.url, ref, sha: ref };
  const problem = refNameProblem(ref);
  if (problem || ref.startsWith("-")) {
    throw new SuiteError(
      `suite ref ${JSON.stringify(ref)} is not a valid git ref name: ${problem ?? 'it starts with "-"'}`,
    );
  }
  const head = `refs/heads/${ref}`;
  const tag = `refs/tags/${ref}`;
  const peeled = `${tag}^{}`;
  const found = await lsRemoteExact(suite.url, [head, tag, peeled], opts);
  // An annotated tag points at a tag object: its peeled entry is the commit.
  const sha = found.get(head) ?? found.get(peeled) ?? found.get(tag);
  if (!sha) {
    throw new SuiteError(
      `suite ref ${JSON.stringify(ref)} is neither a branch nor a tag of ${displayUrl(suite.url)}: fix suite.ref in .airlock.yml`,
    );
  }
  return { url: suite.url, ref, sha };
}
