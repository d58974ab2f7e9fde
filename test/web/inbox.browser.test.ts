// The approval inbox in a real browser (Debian's chromium through playwright-core), over the real
// gateway: the HTTP server, the flow, the GitHub double with real commits. A trusted member sees
// the waiting commits oldest first with author, changed paths, the rules and how many approvals
// each still needs, and what changed since the last approved commit; one click approves that
// exact commit, its restricted jobs run, the approval is audited and the commit leaves the inbox.
// An approval of a commit that moved on approves nothing. An untrusted member sees nothing; forged
// and cross-site posts, and credentials that are not a GitHub member's, approve nothing.
// Screenshots go to test-results/console/.
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { Browser, BrowserContext } from "playwright-core";
import {
  commentPayload,
  prPayload,
  REPO,
  TRUSTED,
  UNTRUSTED,
  WEB_URL,
  World,
} from "../gateway-flow/harness.js";
import { launchChromium } from "./browser.js";

const SHOTS = path.resolve("test-results/console");

const PIPELINE = `version: 1
secrets:
  cloud: {}
trust:
  orgs: [acme]
  rules:
    - name: CI scripts
      paths: [scripts/ci/]
      approvals: 2
jobs:
  unit:
    run: echo "unit ok"
  functional:
    needs: [unit]
    secrets: [cloud]
    run: echo "token is $CLOUD_TOKEN"
`;

type Pr = { number: number; headSha: string; author: string };
type Attempt = { form: Record<string, string>; headers?: Record<string, string> };

describe("the approval inbox in a browser", () => {
  let w: World;
  let browser: Browser;
  const prs: Pr[] = [];
  /** The commit of the third PR that alice approved before a push voided it. */
  let approvedBefore = "";

  const ran = async (sha: string) =>
    (await w.jobsOf(sha)).some((j) => j.job_id === "functional" && j.state === "passed");
  const approveButton = (pr: Pr) => ({
    name: `Approve ${pr.headSha.slice(0, 12)} of ${REPO}#${pr.number}`,
  });

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    w = await World.create(PIPELINE, { console: true });
    const specs: { files: Record<string, string>; title: string }[] = [
      { files: { "docs/guide.md": "hello\n" }, title: "docs: a guide <script>alert(1)</script>" },
      { files: { "scripts/ci/deploy.sh": "echo deploy\n" }, title: "ci: deploy" },
      { files: { "src/app.ts": "x\n" }, title: "feat: app" },
    ];
    for (const s of specs) {
      const pr = w.openPr({ author: UNTRUSTED, ...s });
      assert.equal(
        (await w.send("pull_request", prPayload("opened", pr, { baseSha: w.baseSha }))).status,
        202,
      );
      await w.settle();
      prs.push(pr);
    }
    // One approval of the risky commit: its rule wants two.
    await w.send("issue_comment", commentPayload(prs[1]!.number, "/ok-to-test", "bob"));
    // The third is approved, then pushed to: its new commit waits, with the delta.
    await w.send("issue_comment", commentPayload(prs[2]!.number, "/ok-to-test", TRUSTED));
    await w.settle();
    approvedBefore = prs[2]!.headSha;
    assert.ok(await ran(approvedBefore));
    w.push(prs[2]!, { "src/more.ts": "y\n" });
    await w.send("pull_request", prPayload("synchronize", prs[2]!, { baseSha: w.baseSha }));
    await w.settle();
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    w?.gh.assertNoViolations();
    await w?.close();
  });

  /** A browser signed in as a GitHub user, as the OAuth callback signs them in. */
  async function as(login: string): Promise<BrowserContext> {
    const id = await w.server.db.sessions.createSession({ login, via: "github", ttlMs: 600_000 });
    const ctx = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    await ctx.addCookies([{ name: "airlock_session", value: id, url: w.server.url }]);
    return ctx;
  }

  it("lists the waiting commits oldest first with what each needs, and approves one with a click", async () => {
    const ctx = await as(TRUSTED);
    try {
      const page = await ctx.newPage();
      await page.goto(`${w.server.url}/runs`);
      await page.getByRole("link", { name: "Approvals" }).click();
      await page.getByRole("heading", { name: "Approvals" }).waitFor();
      const rows = page.locator("tbody tr");
      assert.deepEqual(
        await rows.locator("td:nth-child(2) a").allTextContents(),
        prs.map((p) => `${REPO}#${p.number}`),
        "oldest first",
      );
      assert.equal(
        await rows.first().locator("td:nth-child(2) a").getAttribute("href"),
        `${WEB_URL}/${REPO}/pull/${prs[0]!.number}`,
      );
      // The title is text, not markup; author and changed paths are shown.
      assert.ok(await page.getByText("docs: a guide <script>alert(1)</script>").isVisible());
      const risky = rows.nth(1);
      assert.match((await risky.textContent()) ?? "", /mallory/);
      assert.ok(await risky.getByText("scripts/ci/deploy.sh").first().isVisible());
      assert.match(
        (await risky.locator("td:nth-child(6)").textContent()) ?? "",
        /Rule CI scripts: 2 approvals from distinct trusted members \(so far: bob\) 1 more needed/,
      );
      assert.match(
        (await rows.first().locator("td:nth-child(6)").textContent()) ?? "",
        /Every commit: an approval from a trusted member 1 more needed/,
      );
      // The pushed commit: what changed since the approved one.
      const pushed = rows.nth(2).locator("td:nth-child(7)");
      assert.match(
        (await pushed.textContent()) ?? "",
        new RegExp(`1 file since ${approvedBefore.slice(0, 12)} \\(approved by alice\\)`),
      );
      assert.ok(await pushed.getByText("src/more.ts").isVisible());
      assert.match(
        (await pushed.getByRole("link").getAttribute("href")) ?? "",
        new RegExp(`/${REPO}/compare/${approvedBefore}\\.\\.\\.${prs[2]!.headSha}$`),
      );
      assert.match(
        (await rows.first().locator("td:nth-child(7)").textContent()) ?? "",
        /no earlier approval/,
      );
      await page.screenshot({ path: path.join(SHOTS, "inbox.png"), fullPage: true });

      // One click approves the first commit: its restricted job runs, the approval is audited.
      const first = prs[0]!;
      await page.getByRole("button", approveButton(first)).click();
      await page.getByRole("heading", { name: "Approved" }).waitFor();
      assert.match(
        (await page.getByRole("status").textContent()) ?? "",
        /Approved [0-9a-f]{12}: its restricted jobs are queued/,
      );
      await page.screenshot({ path: path.join(SHOTS, "inbox-approved.png"), fullPage: true });
      await w.settle();
      assert.ok(await ran(first.headSha));
      assert.equal(w.checks(first.headSha)["airlock/approval"], "success");
      const audit = await w.server.db.audit.list({ action: "console-approve" });
      assert.equal(audit.length, 1);
      assert.equal(audit[0]!.actor, TRUSTED);
      assert.match(
        audit[0]!.detail ?? "",
        new RegExp(`${REPO}#${first.number} at ${first.headSha}: done`),
      );
      const approvals = await w.server.db.audit.list({ action: "approve" });
      assert.ok(approvals.some((a) => a.actor === TRUSTED && a.detail?.includes(first.headSha)));

      await page.getByRole("link", { name: "Back to the approvals" }).click();
      assert.equal(await page.locator("tbody tr").count(), 2);
      // The risky commit: alice's approval is the second its rule wants.
      await page.getByRole("button", approveButton(prs[1]!)).click();
      await page.getByRole("heading", { name: "Approved" }).waitFor();
      await w.settle();
      assert.ok(await ran(prs[1]!.headSha));
      await page.goto(`${w.server.url}/approvals`);
      assert.equal(await page.locator("tbody tr").count(), 1);
      await page.setViewportSize({ width: 390, height: 800 });
      await page.screenshot({ path: path.join(SHOTS, "inbox-phone.png"), fullPage: true });
    } finally {
      await ctx.close();
    }
  });

  it("an approval of a commit that moved on approves nothing, neither that commit nor the new head", async () => {
    const ctx = await as(TRUSTED);
    try {
      const page = await ctx.newPage();
      await page.goto(`${w.server.url}/approvals`);
      const pr = prs[2]!;
      const shown = { ...pr };
      // The author pushes while the page is open.
      w.push(pr);
      await w.send("pull_request", prPayload("synchronize", pr, { baseSha: w.baseSha }));
      await w.settle();
      await page.getByRole("button", approveButton(shown)).click();
      await page.getByRole("heading", { name: "Not approved" }).waitFor();
      assert.match(
        (await page.getByRole("status").textContent()) ?? "",
        /is not the head of this pull request/,
      );
      await w.settle();
      assert.equal(await ran(pr.headSha), false);
      assert.equal(await ran(shown.headSha), false);
      const standing = (await w.server.db.approvals.history(REPO, pr.number)).filter(
        (a) => a.voidedAt === null,
      );
      assert.deepEqual(standing, [], "no approval stands for either commit");
      await page.goto(`${w.server.url}/approvals`);
      assert.equal(await page.locator("tbody tr").count(), 1, "the new commit waits instead");
      assert.ok(await page.getByRole("button", approveButton(pr)).isVisible());
    } finally {
      await ctx.close();
    }
  });

  it("an untrusted GitHub user sees nothing of the inbox and cannot approve from it", async () => {
    const ctx = await as(UNTRUSTED);
    try {
      const page = await ctx.newPage();
      const res = await page.goto(`${w.server.url}/approvals`);
      assert.equal(res?.status(), 403);
      const body = await page.content();
      assert.ok(!body.includes(`${REPO}#`), "no pull request is named");
      assert.ok(!body.includes(prs[2]!.headSha.slice(0, 12)));
      await page.screenshot({ path: path.join(SHOTS, "inbox-untrusted.png"), fullPage: true });
      const api = await page.request.get(`${w.server.url}/api/approvals`);
      assert.equal(api.status(), 403);
      const post = await page.request.post(`${w.server.url}/approvals/approve`, {
        form: { repo: REPO, pr: String(prs[2]!.number), sha: prs[2]!.headSha, _csrf: "x" },
      });
      assert.equal(post.status(), 403);
      await w.settle();
      assert.equal(await ran(prs[2]!.headSha), false);
    } finally {
      await ctx.close();
    }
  });

  it("a trusted member's session is not enough without this console's form (CSRF)", async () => {
    const ctx = await as(TRUSTED);
    try {
      const page = await ctx.newPage();
      await page.goto(`${w.server.url}/approvals`);
      const pr = prs[2]!;
      const token = await page.locator('input[name="_csrf"]').first().inputValue();
      const form = { repo: REPO, pr: String(pr.number), sha: pr.headSha };
      const attempts: Attempt[] = [
        { form: { ...form, _csrf: "forged" } },
        { form },
        // The right token, from another site's page.
        { form: { ...form, _csrf: token }, headers: { origin: "https://evil.example" } },
        { form: { ...form, _csrf: token }, headers: { "sec-fetch-site": "cross-site" } },
      ];
      for (const a of attempts) {
        const res = await page.request.post(`${w.server.url}/approvals/approve`, a);
        assert.equal(res.status(), 403, JSON.stringify(a));
        assert.match(await res.text(), /CSRF check failed/);
      }
      await w.settle();
      assert.equal(await ran(pr.headSha), false);
      assert.equal(await w.server.db.approvals.approvalFor(REPO, pr.number, pr.headSha), undefined);
    } finally {
      await ctx.close();
    }
  });

  it("an admin token or a sign-in link is not a GitHub member: it approves nothing", async () => {
    const pr = prs[2]!;
    const { token } = await w.server.db.sessions.createToken({
      name: "ops",
      createdBy: "test",
      expiresAt: null,
    });
    const res = await fetch(`${w.server.url}/approvals/approve`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${token}`,
        "content-type": "application/x-www-form-urlencoded",
      },
      body: new URLSearchParams({ repo: REPO, pr: String(pr.number), sha: pr.headSha }).toString(),
    });
    assert.equal(res.status, 409);
    assert.match(await res.text(), /sign in with GitHub/);
    const listed = (await (
      await fetch(`${w.server.url}/api/approvals`, {
        headers: { authorization: `Bearer ${token}` },
      })
    ).json()) as { waiting: { sha: string }[] };
    assert.deepEqual(
      listed.waiting.map((x) => x.sha),
      [pr.headSha],
    );
    await w.settle();
    assert.equal(await w.server.db.approvals.approvalFor(REPO, pr.number, pr.headSha), undefined);
  });
});
