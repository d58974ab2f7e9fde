// A local run that received secrets, seen in the console as a user sees it after `airlock run`
// and `airlock serve` (real CLI, real sandbox, real chromium): who authorised it, "all jobs",
// words instead of JSON, no buttons that cannot act, descriptions, why each job ended and its
// last line, the artifacts it kept, and the embedded store's sets on the secrets page. Screenshots: test-results/console/.
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { userInfo } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { BrowserContext } from "playwright-core";
import { Browser as CookieJar, type Served } from "../serve/helpers.js";
import { show } from "../support/cli.js";
import { Project, runIdOf } from "../support/project.js";
import { type ServedConsole, serveProjectConsole } from "./browser.js";

const SHOTS = path.resolve("test-results/console");
const PIPELINE = `version: 1
secrets:
  cloud: {}
jobs:
  unit:
    description: Unit tests
    run: echo "unit ok"
  coverage:
    run: |
      mkdir -p coverage && echo "lines: 97%" > coverage/summary.txt
    artifacts: [coverage/]
  functional:
    description: Against the cloud account
    needs: [unit]
    secrets: [cloud]
    run: |
      echo "token of \${#CLOUD_TOKEN} characters"
      echo "deploy failed: quota exceeded"
      exit 2
`;

describe("a local run in the console", () => {
  let p: Project;
  let served: Served;
  let ctx: BrowserContext;
  let web: ServedConsole;
  let runId: string;
  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    p = new Project({ files: { ".airlock.yml": PIPELINE } });
    await p.setSecret("cloud", "CLOUD_TOKEN", "tok-local-browser-1");
    await p.setSecret("stash", "OLD_KEY", "not-declared-anywhere"); // stored, not in the config
    const r = await p.cli(["run", "--plain"]);
    assert.equal(r.code, 1, show(r));
    runId = runIdOf(r.stdout);
    web = await serveProjectConsole(p);
    ({ served, ctx } = web);
  });
  after(async () => {
    await web?.close();
    p?.cleanup();
  });

  it("the run page: authorised by the local user, all jobs, no JSON, no buttons, why each job ended", async () => {
    const page = await ctx.newPage();
    try {
      await page.goto(`${served.url}/runs/${runId}`);
      const facts = page.locator("dl.facts.run");
      const fact = async (name: string) =>
        (await facts.locator(`dt:text-is("${name}") + dd`).textContent())?.trim();
      assert.equal(await fact("Authorised by"), `local:${userInfo().username}`);
      assert.equal(await fact("Selection"), "all jobs");
      assert.equal(await fact("Public summary"), "enabled: no, failure messages: public-jobs");
      const text = (await page.locator("main").textContent()) ?? "";
      assert.doesNotMatch(text, /[{}[\]]"|":/, "no raw JSON on the page");
      assert.equal(await page.getByRole("heading", { name: "Actions" }).count(), 0);
      assert.equal(
        await page.getByRole("button").count(),
        0 + (await page.locator("header button").count()),
      );
      const fn = page.locator("li.job", {
        has: page.getByRole("link", { name: "functional", exact: true }),
      });
      assert.equal(await fn.locator(".desc").textContent(), "Against the cloud account");
      assert.equal(
        (await fn.locator('dt:text-is("Ended") + dd').textContent())?.trim(),
        "exit code 2",
      );
      assert.equal(await fn.locator("a.lastline").textContent(), "deploy failed: quota exceeded");
      await page.screenshot({ path: path.join(SHOTS, "local-run-page.png"), fullPage: true });
      // The last line leads to that line in the log.
      await fn.locator("a.lastline").click();
      await page.locator(".matches > li > a", { hasText: "Line 2" }).waitFor();
    } finally {
      await page.close();
    }
  });

  it("the run page lists the artifacts a job kept, and downloads them", async () => {
    const page = await ctx.newPage();
    try {
      await page.goto(`${served.url}/runs/${runId}`);
      const section = page.getByRole("region", { name: "Artifacts" });
      const link = section.getByRole("link", { name: "coverage/summary.txt" });
      assert.ok(await link.isVisible());
      assert.match(
        (await section.textContent()) ?? "",
        /coverage.*coverage\/summary\.txt\s*11 bytes\s*text \(passed the redactor\)/s,
      );
      await section.screenshot({ path: path.join(SHOTS, "run-artifacts.png") });
      const [download] = await Promise.all([page.waitForEvent("download"), link.click()]);
      assert.equal(download.suggestedFilename(), "summary.txt");
      const file = await download.path();
      assert.equal(readFileSync(file, "utf8"), "lines: 97%\n");
    } finally {
      await page.close();
    }
  });

  it("the secrets page lists the embedded store's sets, declared or not, never a value", async () => {
    const page = await ctx.newPage();
    try {
      await page.goto(`${served.url}/secrets`);
      await page.getByRole("heading", { name: "cloud" }).waitFor();
      assert.ok(await page.getByRole("heading", { name: "stash" }).isVisible());
      assert.ok(await page.getByText("CLOUD_TOKEN").isVisible());
      assert.ok(await page.getByText("OLD_KEY").isVisible());
      assert.ok(
        await page.getByText(/Backend: embedded \(stored; not in \.airlock\.yml\)/).isVisible(),
      );
      assert.equal(await page.getByText("No secret sets are configured").count(), 0);
      const html = await page.content();
      assert.ok(!html.includes("tok-local-browser-1") && !html.includes("not-declared-anywhere"));
      await page.screenshot({ path: path.join(SHOTS, "secrets-page.png"), fullPage: true });
    } finally {
      await page.close();
    }
  });

  it("cookie-less fetches are still refused", async () => {
    const anon = new CookieJar(served.url);
    const res = await anon.fetch(`/runs/${runId}`);
    assert.equal(res.status, 303);
  });
});
