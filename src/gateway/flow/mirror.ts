// `/mirror`: the PR's exact head commit pushed to an internal mirror branch (it grants nothing),
// and that branch deleted when the PR is closed.
import { ConfigError } from "../../config/loader.js";
import type { Config } from "../../config/schema.js";
import {
  authFromSecretEnv,
  deleteMirror,
  type GitAuth,
  mirrorBranchName,
  mirrorRemote,
  pushMirror,
} from "../../suite/index.js";
import type { HandlerContext } from "../events.js";
import { HeadMovedError } from "../pr-source.js";
import { withSecretSet } from "./secret-set.js";
import { reply } from "./status.js";
import { type Flow, type Loaded, type PrEvent, type PrFacts, short } from "./types.js";

/** `/mirror`: the PR's exact head commit to the internal mirror branch. */
export async function mirror(
  flow: Flow,
  f: PrFacts,
  loaded: Loaded,
  ctx: HandlerContext,
  key: string,
): Promise<void> {
  const config = loaded.base;
  let branch: string;
  try {
    mirrorRemote(config);
    branch = mirrorBranchName(config.mirror!.branch, f.number);
  } catch (e) {
    await reply(flow, f, ctx, `\`/mirror\` is not set up: ${(e as Error).message}`, key);
    return;
  }
  try {
    // The head is fetched already (load does it); its local mirror is the source.
    const head = await flow.o.source.fetch({
      repo: f.repo,
      pr: f.number,
      sha: f.headSha,
      installationId: f.installationId,
    });
    await withMirrorAuth(flow, config, `pr-${f.number}-mirror`, (auth) =>
      pushMirror({
        source: head.repoDir,
        sha: f.headSha,
        remote: mirrorRemote(config),
        branch,
        auth,
      }),
    );
  } catch (e) {
    if (e instanceof HeadMovedError) return; // the push's own event decides again
    // Git's words may describe the internal server: they go to Airlock's log only.
    flow.o.log?.warn(
      { repo: f.repo, pr: f.number, message: (e as Error).message },
      "mirror failed",
    );
    await reply(
      flow,
      f,
      ctx,
      `Airlock could not mirror ${short(f.headSha)} to \`${branch}\`; the reason is in Airlock's log.`,
      key,
    );
    return;
  }
  await reply(
    flow,
    f,
    ctx,
    `Mirrored ${f.headSha} to \`${branch}\`. Approvals still apply to commits, not to branches.`,
    key,
  );
}

/** A closed PR's mirror branch is deleted (when the base definition mirrors PRs at all). */
export async function deleteMirrorOf(flow: Flow, ev: PrEvent, ctx: HandlerContext): Promise<void> {
  const repo = ev.repo.fullName;
  let config: Config | null;
  try {
    config = await flow.baseConfig(repo, ev.installationId!, ev.pr.baseSha);
  } catch (e) {
    if (e instanceof ConfigError) return;
    throw e;
  }
  if (!config?.mirror) return;
  try {
    const branch = mirrorBranchName(config.mirror.branch, ev.pr.number);
    const remote = mirrorRemote(config);
    await withMirrorAuth(flow, config, `pr-${ev.pr.number}-mirror`, (auth) =>
      deleteMirror({ remote, branch, auth }),
    );
  } catch (e) {
    // A branch left behind is untidy, not unsafe: log it rather than retry the event forever.
    flow.o.log?.warn(
      { delivery: ctx.deliveryId, repo, pr: ev.pr.number, message: (e as Error).message },
      "could not delete the mirror branch",
    );
  }
}

/** Runs `fn` with the mirror's push credentials, granted from its secret set and then released. */
function withMirrorAuth<T>(
  flow: Flow,
  config: Config,
  runId: string,
  fn: (auth: GitAuth[]) => Promise<T>,
): Promise<T> {
  const set = config.mirror?.credentials;
  if (!set) return fn([]);
  return withSecretSet(flow, config, set, { runId, jobId: "mirror-push" }, (grant) =>
    fn([authFromSecretEnv(mirrorRemote(config), grant.env)]),
  );
}
