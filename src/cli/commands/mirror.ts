// `airlock mirror --pr N`: push a pull request's exact head commit to an internal branch
// (`airlock/pr-N` by default) of the main or suite repository; `--delete` removes it.
// Mirroring grants nothing: approvals stay pinned to the commit SHA.
import type { Command } from "commander";
import type { MirrorConfig, SuiteConfig } from "../../config/suite-schema.js";
import {
  authFromSecretEnv,
  deleteMirror,
  type GitAuth,
  isFullSha,
  MirrorError,
  mirrorBranchName,
  pushMirror,
} from "../../suite/index.js";
import { UserError } from "../errors.js";

export interface MirrorDeps {
  /** The `mirror` and `suite` sections of the project's .airlock.yml (trusted base ref). */
  loadConfig(projectDir: string): Promise<{ mirror?: MirrorConfig; suite?: SuiteConfig }>;
  /** The pull request's head commit and clone URL, from the forge. */
  pullRequest?(projectDir: string, pr: number): Promise<{ sha: string; cloneUrl: string }>;
  /** A secret set's granted environment (GIT_TOKEN, GIT_USERNAME), for pushing. */
  secretEnv?(projectDir: string, set: string): Promise<Record<string, string>>;
}

interface MirrorOptions {
  dir: string;
  pr: string;
  sha?: string;
  source?: string;
  delete?: boolean;
}

export function registerMirror(program: Command, deps: MirrorDeps): void {
  program
    .command("mirror")
    .description("push a pull request's exact head commit to an internal branch (airlock/pr-N)")
    .requiredOption("--pr <number>", "pull request number")
    .option("-C, --dir <dir>", "project directory", ".")
    .option("--sha <sha>", "head commit to mirror (default: the pull request's head)")
    .option("--source <url>", "repository to fetch the commit from (default: the pull request's)")
    .option("--delete", "delete the mirror branch (as when the pull request closes)")
    .action(async (opts: MirrorOptions) => {
      process.stdout.write(await mirrorCommand(opts, deps));
    });
}

export async function mirrorCommand(opts: MirrorOptions, deps: MirrorDeps): Promise<string> {
  const pr = Number(opts.pr);
  if (!/^\d+$/.test(opts.pr) || !Number.isSafeInteger(pr) || pr <= 0) {
    throw new UserError(`--pr ${JSON.stringify(opts.pr)} is not a pull request number`);
  }
  const config = await deps.loadConfig(opts.dir);
  const mirror = config.mirror;
  if (!mirror) {
    throw new UserError(
      "no `mirror:` section in .airlock.yml: add `mirror: { remote: suite }` (or a git URL) to enable it",
    );
  }
  let remote = mirror.remote;
  if (remote === "suite") {
    if (!config.suite)
      throw new UserError("mirror.remote is `suite` but .airlock.yml has no `suite:` section");
    remote = config.suite.url;
  }
  const auth: GitAuth[] = [];
  if (mirror.credentials) {
    if (!deps.secretEnv)
      throw new UserError(
        "this Airlock cannot read secret sets here: run the command where `airlock serve` runs",
      );
    try {
      auth.push(authFromSecretEnv(remote, await deps.secretEnv(opts.dir, mirror.credentials)));
    } catch (e) {
      throw new UserError((e as Error).message);
    }
  }
  try {
    const branch = mirrorBranchName(mirror.branch, pr);
    if (opts.delete) {
      const deleted = await deleteMirror({ remote, branch, auth });
      return deleted ? `deleted ${branch}\n` : `${branch} did not exist\n`;
    }
    let sha = opts.sha;
    let source = opts.source;
    if (!sha || !source) {
      if (!deps.pullRequest) {
        throw new UserError(
          "pass --sha and --source: this Airlock cannot look up pull requests here",
        );
      }
      const head = await deps.pullRequest(opts.dir, pr);
      sha ??= head.sha;
      source ??= head.cloneUrl;
    }
    if (!isFullSha(sha))
      throw new UserError(`--sha ${JSON.stringify(sha)} is not a full commit SHA`);
    await pushMirror({ source, sha, remote, branch, auth });
    return `mirrored ${sha} to ${branch}\n`;
  } catch (e) {
    if (e instanceof MirrorError) throw new UserError(e.message);
    throw e;
  }
}
