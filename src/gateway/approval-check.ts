// The `airlock/approval` check of a PR's head: trusted, approved, or waiting, and when waiting,
// what it waits for: the rules its changed paths bring in with the approvals so far and those
// still needed, what a bot's scope runs anyway, and what changed since the last approved commit.
// Paths come from the forge and are the PR author's text: they are shown as code, never as
// markdown, links or mentions.
import type { CheckRunState, Comparison } from "../forge/types.js";
import type { RequirementStatus } from "../trust/policy.js";
import { describeRequirement } from "../trust/policy.js";
import { clip, code, fitOutput, type RenderOptions, runPageUrl } from "./checks.js";

export const APPROVAL_CHECK = "airlock/approval";

const TITLE_MAX = 200;
/** Files listed under "since the last approved commit"; more are counted. */
const DELTA_FILES = 50;

/** What changed between the last approved commit and the head. */
export interface ApprovalDelta {
  /** The last commit of the PR that was approved. */
  fromSha: string;
  approvedBy: string[];
  comparison: Comparison;
}

export type ApprovalView =
  /** The plan has no restricted jobs: nothing to approve. */
  | { kind: "none" }
  | { kind: "trusted"; by: string; reason: string }
  | {
      kind: "approved";
      by: string;
      /** The rules the approval had to meet, beyond the default one. */
      rules?: RequirementStatus[];
    }
  | {
      kind: "waiting";
      restrictedJobs: string[];
      /** Set when a push voided an approval: which SHA had been approved. */
      voidedSha?: string;
      /** Why the commit is not authorized. */
      reason?: string;
      /** What the approval must be, and where it stands (when rules apply or approvals exist). */
      requirements?: RequirementStatus[];
      /** The forge listed only part of the changed files. */
      incomplete?: boolean;
      /** A bot's scope lets these restricted jobs run without an approval. */
      scoped?: { bot: string; jobs: string[] };
      /** Said beside the reason. */
      note?: string;
      delta?: ApprovalDelta;
    };

const jobs = (ids: string[]) => ids.map((j) => `\`${j}\``).join(", ");

/** One line per requirement: what it asks, which changed paths brought it in, where it stands. */
export function requirementLines(reqs: RequirementStatus[]): string[] {
  return reqs.map((r) => {
    const name = r.name === "default" ? "Every commit" : `Rule ${code(r.name)}`;
    const more = r.matched - r.paths.length;
    const paths = r.paths.length
      ? ` (changes ${r.paths.map(code).join(", ")}${more > 0 ? ` and ${more} more` : ""})`
      : "";
    const status =
      r.missing === 0
        ? `met: ${r.by.join(", ")}`
        : `${r.by.length ? `${r.by.length} so far (${r.by.join(", ")}), ` : ""}${r.missing} more needed`;
    return `- ${name}${paths}: ${describeRequirement(r)} — ${status}.`;
  });
}

/** The files changed since the last approved commit, with the forge's compare link. */
export function deltaLines(head: string, d: ApprovalDelta): string[] {
  const c = d.comparison;
  const from = d.fromSha.slice(0, 12);
  const by = d.approvedBy.length ? ` (approved by ${d.approvedBy.join(", ")})` : "";
  const lines = [
    `### Since the last approved commit`,
    "",
    `${from}${by} → ${head.slice(0, 12)}: ${c.files.length}${c.complete ? "" : "+"} file${c.files.length === 1 ? "" : "s"} changed, [compare on GitHub](${c.url}).`,
  ];
  if (c.status === "diverged" || c.status === "behind") {
    lines.push(
      "",
      `**${from} is not an ancestor of this commit** (history was rewritten): the list shows the changes since their common ancestor. Review the whole pull request.`,
    );
  }
  lines.push("");
  for (const f of c.files.slice(0, DELTA_FILES)) {
    const was = f.previousPath ? ` (from ${code(f.previousPath)})` : "";
    lines.push(`- ${code(f.path)} ${f.change}${was}`);
  }
  if (c.files.length > DELTA_FILES) lines.push(`- … and ${c.files.length - DELTA_FILES} more`);
  return lines;
}

function waitingTitle(v: Extract<ApprovalView, { kind: "waiting" }>): string {
  if (v.voidedSha) return "Approval voided by a new push";
  const open = (v.requirements ?? []).filter((r) => r.missing > 0);
  const missing = open.reduce((n, r) => Math.max(n, r.missing), 0);
  const ruled = open.filter((r) => r.name !== "default").map((r) => r.name);
  if (ruled.length === 0 && missing <= 1) return "Waiting for approval";
  return `Waiting for approval: ${missing} more${ruled.length ? ` (${ruled.join(", ")})` : ""}`;
}

export function renderApprovalCheck(
  headSha: string,
  view: ApprovalView,
  opts: RenderOptions & { runId?: string } = {},
): CheckRunState {
  const details = opts.runId ? runPageUrl(opts.publicUrl, opts.runId) : undefined;
  const base = {
    name: APPROVAL_CHECK,
    head_sha: headSha,
    status: "completed" as const,
    completed_at: new Date((opts.now ?? Date.now)()).toISOString(),
    ...(details ? { details_url: details } : {}),
  };
  switch (view.kind) {
    case "none":
      return {
        ...base,
        conclusion: "neutral",
        output: { title: "No restricted jobs", summary: "No job of this pipeline uses secrets." },
      };
    case "trusted":
      return {
        ...base,
        conclusion: "success",
        output: {
          title: clip(`Trusted: ${view.by}`, TITLE_MAX),
          summary: `Restricted jobs run for ${headSha}: ${view.reason}.`,
        },
      };
    case "approved": {
      const rules = (view.rules ?? []).filter((r) => r.name !== "default");
      return {
        ...base,
        conclusion: "success",
        output: {
          title: clip(`Approved by ${view.by} for ${headSha.slice(0, 12)}`, TITLE_MAX),
          summary: [
            `${view.by} approved commit ${headSha}. A new push voids this approval.`,
            ...(rules.length ? ["", "Rules this commit met:", ...requirementLines(rules)] : []),
          ].join("\n"),
        },
      };
    }
    case "waiting": {
      const reqs = view.requirements ?? [];
      const lines = [
        view.voidedSha
          ? `The approval of ${view.voidedSha} was voided because new commits were pushed; ${headSha} has not been approved.`
          : `Commit ${headSha} has not been approved.`,
        view.reason ? `${view.reason}.` : "",
        view.note ?? "",
        view.scoped
          ? `Running without an approval, by the scope of ${view.scoped.bot} in trust.bots: ${jobs(view.scoped.jobs)}.`
          : "",
        `Waiting: ${jobs(view.restrictedJobs) || "restricted jobs"} (they use secrets). Public jobs run without approval.`,
      ].filter(Boolean);
      if (reqs.some((r) => r.name !== "default" || r.by.length > 0)) {
        lines.push("", "### Approval needed", "", ...requirementLines(reqs));
        if (view.incomplete) {
          lines.push(
            "",
            "GitHub listed only part of the changed files (it lists 300 at most), so every rule applies.",
          );
        }
      }
      if (view.delta) lines.push("", ...deltaLines(headSha, view.delta));
      lines.push(
        "",
        "A trusted member approves this exact commit, after reviewing it, by commenting",
        `\`/ok-to-test\` or \`/ok-to-test ${headSha}\`, or by adding the \`ok-to-test\` label. A new push voids the approval.`,
      );
      const more = details ? `The full list is on the [run page](${details}).` : "";
      return {
        ...base,
        // action_required needs a details_url; without one the check is neutral.
        conclusion: details ? "action_required" : "neutral",
        output: {
          title: clip(waitingTitle(view), TITLE_MAX),
          summary: fitOutput(lines.join("\n"), more),
        },
      };
    }
  }
}
