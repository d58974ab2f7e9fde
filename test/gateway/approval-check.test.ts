// The approval check: what waits and how to approve, the rules a commit's changed paths bring in
// with the approvals still needed, a bot's scope, and the delta since the last approved commit.
// Paths are the PR author's text: they never render as markdown, links or mentions.
import assert from "node:assert/strict";
import { test } from "node:test";
import { renderApprovalCheck } from "../../src/gateway/approval-check.js";
import type { RequirementStatus } from "../../src/trust/policy.js";

const HEAD = "c".repeat(40);
const OLD = "a".repeat(40);

test("the approval check says what waits and how to approve, and when a push voided it", () => {
  const waiting = renderApprovalCheck(
    HEAD,
    { kind: "waiting", restrictedJobs: ["functional-aws-infra"], reason: "mallory is not trusted" },
    { publicUrl: "https://a.example", runId: "r-1" },
  );
  assert.equal(waiting.conclusion, "action_required");
  assert.equal(waiting.output?.title, "Waiting for approval");
  assert.match(waiting.output!.summary, new RegExp(`/ok-to-test ${HEAD}`));
  assert.match(waiting.output!.summary, /ok-to-test` label/);
  assert.match(waiting.output!.summary, /functional-aws-infra/);
  const voided = renderApprovalCheck(HEAD, {
    kind: "waiting",
    restrictedJobs: [],
    voidedSha: "a".repeat(40),
  });
  assert.equal(voided.output?.title, "Approval voided by a new push");
  assert.equal(voided.conclusion, "neutral", "action_required needs a details_url");
  assert.equal(renderApprovalCheck(HEAD, { kind: "approved", by: "alice" }).conclusion, "success");
  assert.equal(renderApprovalCheck(HEAD, { kind: "none" }).conclusion, "neutral");
});

const rule = (o: Partial<RequirementStatus>): RequirementStatus => ({
  name: "pipeline",
  approvals: 2,
  teams: [],
  paths: [".airlock.yml"],
  matched: 1,
  by: [],
  missing: 2,
  ...o,
});

test("a rule's requirement: which rule, which paths, who approved, how many more", () => {
  const check = renderApprovalCheck(
    HEAD,
    {
      kind: "waiting",
      restrictedJobs: ["functional"],
      requirements: [
        rule({ name: "default", approvals: 1, paths: [], matched: 0, by: ["alice"], missing: 0 }),
        rule({ by: ["alice"], missing: 1, paths: ["scripts/ci.sh", ".airlock.yml"], matched: 7 }),
        rule({ name: "secrets", approvals: 1, teams: ["acme/security"], missing: 1 }),
      ],
    },
    { publicUrl: "https://a.example", runId: "r-1" },
  );
  const s = check.output!.summary;
  assert.equal(check.output?.title, "Waiting for approval: 1 more (pipeline, secrets)");
  assert.match(
    s,
    /Rule `+ ?pipeline ?`+ \(changes `+ ?scripts\/ci\.sh ?`+, `+ ?\.airlock\.yml ?`+ and 5 more\): 2 approvals from distinct trusted members — 1 so far \(alice\), 1 more needed\./,
  );
  assert.match(s, /an approval from a member of acme\/security — 1 more needed/);
  assert.match(s, /Every commit: an approval from a trusted member — met: alice\./);
});

test("changed paths are code: no link, mention, markup or line break gets out of them", () => {
  const evil = "x](https://evil.example) @acme/everyone <img src=x>\n# head `tick`";
  const check = renderApprovalCheck(HEAD, {
    kind: "waiting",
    restrictedJobs: ["functional"],
    requirements: [rule({ paths: [evil] })],
    delta: {
      fromSha: OLD,
      approvedBy: ["alice"],
      comparison: {
        status: "ahead",
        aheadBy: 1,
        complete: true,
        url: "https://github.com/acme/app/compare/a...c",
        files: [{ path: evil, change: "renamed", previousPath: evil }],
      },
    },
  });
  const s = check.output!.summary;
  for (const line of s.split("\n").filter((l) => l.includes("evil.example"))) {
    // Every occurrence sits inside a code span fenced with more backticks than it holds.
    assert.match(line, /``\s[^\n]*evil\.example[^\n]*\s``/, line);
  }
  assert.doesNotMatch(s, /\n# head/, "no line break escapes the span");
});

test("the delta since the last approved commit: files, the compare link, a rewrite called out", () => {
  const files = Array.from({ length: 55 }, (_, i) => ({
    path: `src/f${i}.ts`,
    change: "modified" as const,
  }));
  const view = (status: "ahead" | "diverged") =>
    renderApprovalCheck(HEAD, {
      kind: "waiting",
      restrictedJobs: ["functional"],
      voidedSha: OLD,
      delta: {
        fromSha: OLD,
        approvedBy: ["alice"],
        comparison: {
          status,
          aheadBy: 2,
          complete: true,
          url: "https://github.com/x/compare",
          files,
        },
      },
    }).output!.summary;
  const s = view("ahead");
  assert.match(s, /### Since the last approved commit/);
  assert.match(
    s,
    /aaaaaaaaaaaa \(approved by alice\) → cccccccccccc: 55 files changed, \[compare on GitHub\]\(https:\/\/github\.com\/x\/compare\)/,
  );
  assert.match(s, /`+ ?src\/f49\.ts ?`+ modified\n- … and 5 more/);
  assert.doesNotMatch(s, /not an ancestor/);
  assert.match(view("diverged"), /aaaaaaaaaaaa is not an ancestor of this commit/);
  // Still exactly one commit to approve.
  assert.match(s, new RegExp(`/ok-to-test ${HEAD}`));
});

test("a bot's scope: what runs anyway, what waits, and the note", () => {
  const s = renderApprovalCheck(HEAD, {
    kind: "waiting",
    restrictedJobs: ["functional"],
    scoped: { bot: "dependabot[bot]", jobs: ["install-check"] },
    note: "The commit changes paths under x.",
  }).output!.summary;
  assert.match(s, /by the scope of dependabot\[bot\] in trust\.bots: `install-check`/);
  assert.match(s, /The commit changes paths under x\./);
  assert.match(s, /Waiting: `functional`/);
});

test("an approval that met rules names them", () => {
  const s = renderApprovalCheck(HEAD, {
    kind: "approved",
    by: "alice, bob",
    rules: [rule({ by: ["alice", "bob"], missing: 0 })],
  }).output!.summary;
  assert.match(s, /Rules this commit met:\n- Rule `+ ?pipeline ?`+.*met: alice, bob/);
});
