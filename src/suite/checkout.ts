// Fetches exactly one commit of the suite into a directory, to be mounted read-only into
// restricted jobs. The checkout keeps no credentials: they lived only in git's environment.
import { mkdirSync, readdirSync } from "node:fs";
import { displayUrl, gitReason, runGit } from "./git.js";
import { isFullSha } from "./refname.js";
import { SuiteError, type SuiteGitOptions } from "./resolve.js";

export interface SuiteCheckout {
  dir: string;
  sha: string;
}

/**
 * Checks out `sha` of `url` into `dir` (absent or empty). Fetches the commit by id; servers that
 * refuse fetching by id are asked for `ref` instead, and the result must still be `sha`.
 */
export async function checkoutSuite(
  url: string,
  sha: string,
  dir: string,
  opts: SuiteGitOptions & { ref?: string } = {},
): Promise<SuiteCheckout> {
  if (!isFullSha(sha))
    throw new SuiteError(`suite commit ${JSON.stringify(sha)} is not a full SHA`);
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  if (readdirSync(dir).length > 0)
    throw new SuiteError(`suite checkout directory ${dir} is not empty`);
  const git = (args: string[]) => runGit(args, { ...opts, cwd: dir });
  const must = async (args: string[], what: string) => {
    const r = await git(args);
    if (r.code !== 0) throw new SuiteError(`${what}: ${gitReason(r.stderr)}`);
    return r;
  };
  await must(["init", "-q"], "cannot create the suite checkout");
  let fetched = await git(["fetch", "-q", "--no-tags", "--depth", "1", "--", url, sha]);
  if (fetched.code !== 0 && opts.ref && !isFullSha(opts.ref)) {
    fetched = await git(["fetch", "-q", "--no-tags", "--", url, `refs/heads/${opts.ref}`]);
    if (fetched.code !== 0) {
      fetched = await git(["fetch", "-q", "--no-tags", "--", url, `refs/tags/${opts.ref}`]);
    }
  }
  if (fetched.code !== 0) {
    throw new SuiteError(
      `cannot fetch suite commit ${sha} from ${displayUrl(url)}: ${gitReason(fetched.stderr)}`,
    );
  }
  const have = await git(["cat-file", "-e", `${sha}^{commit}`]);
  if (have.code !== 0) {
    throw new SuiteError(
      `suite commit ${sha} is no longer reachable in ${displayUrl(url)}: the ref moved; re-run to resolve it again`,
    );
  }
  await must(
    ["-c", "advice.detachedHead=false", "checkout", "-q", "--detach", sha],
    `cannot check out suite commit ${sha}`,
  );
  return { dir, sha };
}
