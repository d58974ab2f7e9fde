// `airlock mirror --pr N`: push a pull request's exact head commit to an internal branch
// (`airlock/pr-N` by default) of the main or suite repository; `--delete` removes it.
// Mirroring grants nothing: approvals stay pinned to the commit SHA.
import path from "node:path";
import type { Command } from "commander";
import type { MirrorConfig, SuiteConfig } from "../../config/suite-schema.js";
import { SecretsService } from "../../secrets/grants.js";
import "../../secrets/vault/register.js";
import { resolveDataDir } from "../../store/datadir.js";
import {
  authFromSecretEnv,
  deleteMirror,
  type GitAuth,
  isFullSha,
  MirrorError,
  mirrorBranchName,
  mirrorRemote,
  pushMirror,
} from "../../suite/index.js";
import { UserError } from "../errors.js";
import { inspectRepo } from "../local-repo.js";
import { openStoreFor } from "../open-store.js";
import { loadPipeline } from "./run.js";

export interface MirrorDeps {
  /** The `mirror` and `suite` sections of the project's .airlock.yml (trusted base ref). */
  loadConfig(projectDir: string): Promise<{ mirror?: MirrorConfig; suite?: SuiteConfig }>;
  /** The pull request's head commit and clone URL, from the forge. */
  pullRequest?(projectDir: string, pr: number): Promise<{ sha: string; cloneUrl: string }>;
  /** Without a forge: the project's checked-out commit and where to fetch it from. */
  localHead?(projectDir: string): Promise<{ sha: string; source: string }>;
  /** Runs `fn` with a secret set's granted environment (GIT_TOKEN, GIT_USERNAME), then releases it. */
  withSecretEnv?<T>(
    projectDir: string,
    set: string,
    fn: (env: Record<string, string>) => Promise<T>,
  ): Promise<T>;
}

interface MirrorOptions {
  dir: string;
  pr: string;
  sha?: string;
  source?: string;
  delete?: boolean;
}

export function registerMirror(program: Command, deps: MirrorDeps = localMirrorDeps): void {
  program
    .command("mirror")
    .description("push a pull request's exact head commit to an internal branch (airlock/pr-N)")
    .requiredOption("--pr <number>", "pull request number")
    .option("-C, --dir <dir>", "project directory", ".")
    .option("--sha <sha>", "commit to mirror (default: the project's checked-out commit)")
    .option("--source <url>", "repository to fetch the commit from (default: the project's)")
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
  try {
    const remote = mirrorRemote(config);
    const branch = mirrorBranchName(config.mirror!.branch, pr);
    const withAuth = async <T>(fn: (auth: GitAuth[]) => Promise<T>): Promise<T> => {
      const set = config.mirror!.credentials;
      if (!set) return fn([]);
      if (!deps.withSecretEnv) {
        throw new UserError(
          "this Airlock cannot read secret sets here: run the command where `airlock serve` runs",
        );
      }
      return deps.withSecretEnv(opts.dir, set, (env) => {
        let auth: GitAuth;
        try {
          auth = authFromSecretEnv(remote, env);
        } catch (e) {
          throw new UserError(`secret set ${set}: ${(e as Error).message}`);
        }
        return fn([auth]);
      });
    };
    if (opts.delete) {
      const deleted = await withAuth((auth) => deleteMirror({ remote, branch, auth }));
      return deleted ? `deleted ${branch}\n` : `${branch} did not exist\n`;
    }
    let sha = opts.sha;
    let source = opts.source;
    if (!sha || !source) {
      if (deps.pullRequest) {
        const head = await deps.pullRequest(opts.dir, pr);
        sha ??= head.sha;
        source ??= head.cloneUrl;
      } else if (deps.localHead) {
        const head = await deps.localHead(opts.dir);
        sha ??= head.sha;
        source ??= head.source;
      } else {
        throw new UserError("pass --sha and --source: this Airlock cannot look up pull requests");
      }
    }
    if (!isFullSha(sha))
      throw new UserError(`--sha ${JSON.stringify(sha)} is not a full commit SHA`);
    const commit = sha;
    const from = source;
    await withAuth((auth) => pushMirror({ source: from, sha: commit, remote, branch, auth }));
    return `mirrored ${sha} to ${branch}\n`;
  } catch (e) {
    if (e instanceof MirrorError) throw new UserError(e.message);
    throw e;
  }
}

/**
 * The deps of a gateway-less `airlock mirror`: .airlock.yml from the project's checked-out
 * commit, that commit as the head to mirror, push credentials from the data directory's secret
 * store. Looking a pull request up on GitHub is left to the gateway's `/mirror` comment.
 */
export const localMirrorDeps: MirrorDeps = {
  async loadConfig(projectDir) {
    return loadPipeline(await inspectRepo(projectDir), false);
  },
  async localHead(projectDir) {
    const repo = await inspectRepo(projectDir);
    return { sha: repo.sha, source: repo.root };
  },
  async withSecretEnv(projectDir, set, fn) {
    const repo = await inspectRepo(projectDir);
    const config = await loadPipeline(repo, false);
    const dataDir = resolveDataDir(path.join(repo.root, repo.subdir));
    const store = await openStoreFor({ dataDir, env: process.env });
    try {
      const secrets = new SecretsService({
        dataDir,
        store,
        sets: config.secrets,
        env: process.env,
        actor: "airlock mirror",
      });
      let grant: Awaited<ReturnType<SecretsService["grantSet"]>>;
      try {
        grant = await secrets.grantSet(set, {
          runId: "mirror",
          jobId: "mirror-push",
          timeoutMs: 10 * 60_000,
        });
      } catch (e) {
        throw new UserError(`cannot read the secret set ${set}: ${(e as Error).message}`);
      }
      try {
        return await fn(grant.env);
      } finally {
        await grant.release();
      }
    } finally {
      await store.close();
    }
  },
};
