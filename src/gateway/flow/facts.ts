// Where a PR stands, read from the forge rather than from an event (which may be old), or taken
// from a stored run request.
import { type PullRequest, repoRef } from "../../forge/types.js";
import type { RunRequestRow } from "../../store/index.js";
import type { Actor } from "../../trust/rules.js";
import type { Flow, PrFacts } from "./types.js";

const actorOf = (login: string): Actor => ({
  login,
  type: login.endsWith("[bot]") ? "Bot" : "User",
});

function factsOf(repo: string, installationId: number, pr: PullRequest): PrFacts {
  return {
    repo,
    installationId,
    number: pr.number,
    headSha: pr.head.sha,
    baseSha: pr.base.sha,
    headRef: pr.head.ref,
    headRepo: pr.head.repo
      ? {
          fullName: pr.head.repo.full_name,
          owner: {
            login: pr.head.repo.owner.login,
            ...(pr.head.repo.owner.type ? { type: pr.head.repo.owner.type } : {}),
          },
        }
      : null,
    author: pr.user
      ? { login: pr.user.login, ...(pr.user.type ? { type: pr.user.type } : {}) }
      : { login: "ghost" },
    ...(pr.title !== undefined ? { title: pr.title } : {}),
    draft: pr.draft ?? false,
    open: pr.state === "open",
    labels: pr.labels.map((l) => l.name),
    baseRef: pr.base.ref,
    fork: pr.head.repo?.full_name.toLowerCase() !== pr.base.repo.full_name.toLowerCase(),
  };
}

/** The PR as the forge shows it now. */
export async function facts(
  flow: Flow,
  repo: string,
  installationId: number,
  n: number,
): Promise<PrFacts> {
  const pr = await flow.forge(installationId).pull(repoRef(repo), n);
  return factsOf(repo, installationId, pr);
}

/** The PR as a run request recorded it (open, not a draft; head repository and labels unknown). */
export function factsOfRequest(req: RunRequestRow): PrFacts {
  return {
    repo: req.repo,
    installationId: req.installationId,
    number: req.pr,
    headSha: req.headSha,
    baseSha: req.baseSha,
    headRef: req.headRef,
    headRepo: null,
    author: actorOf(req.author),
    draft: false,
    open: true,
    labels: [],
  };
}
