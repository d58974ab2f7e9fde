// The run page after a real `airlock run` (real CLI, sandbox, reports), in chromium: failed tests
// with their messages linked to the log lines where they show, matrix jobs grouped, the timeline
// (what waited for what), and log lines with timestamps that can be shown and hidden — while a log
// written before timestamps existed still reads. Screenshots: test-results/console/.
import assert from "node:assert/strict";
import { mkdirSync, rmSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { BrowserContext } from "playwright-core";
import { timesPathOf } from "../../src/store/log-times.js";
import type { Served } from "../serve/helpers.js";
import { show } from "../support/cli.js";
import { Project, runIdOf } from "../support/project.js";
import { type ServedConsole, serveProjectConsole } from "./browser.js";

const SHOTS = path.resolve("test-results/console");
const PIPELINE = `version: 1
jobs:
  build:
    run: |
      echo "compiling"
      echo "built"
  unit:
    needs: [build]
    reports: [reports/*.xml]
    run: |
      mkdir -p reports
      echo "running 2 tests"
      echo "  ok accepts good input"
      echo "  1) parser rejects <bad> input"
      echo "     AssertionError: expected 1, got 2"
      cat > reports/unit.xml <<'XML'
      <testsuite name="parser" tests="2" failures="1">
      <testcase classname="parser" name="accepts good input"/>
      <testcase classname="parser" name="parser rejects &lt;bad&gt; input"><failure message="AssertionError: expected 1, got 2">at parse (parser.js:10)</failure></testcase>
      </testsuite>
      XML
      exit 1
  functional:
    needs: [build]
    matrix:
      provider: [aws, gcp, azure]
    name: func-\${provider}
    run: echo "testing $provider"
`;

describe("the run page after a real run", () => {
  let p: Project;
  let served: Served;
  let ctx: BrowserContext;
  let web: ServedConsole;
  let runId: string;
  let runStarted: number;
  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    p = new Project({ files: { ".airlock.yml": PIPELINE } });
    runStarted = Date.now();
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

  it("lists failed tests with their messages, each linked to its line in the log", async () => {
    const page = await ctx.newPage();
    try {
      await page.goto(`${served.url}/runs/${runId}`);
      const failures = page.getByRole("region", { name: "Failed tests" });
      const item = failures.locator("li.failure");
      assert.equal(await item.count(), 1, "the passing test is not listed");
      assert.equal(await item.locator("strong").textContent(), "parser rejects <bad> input");
      assert.match((await item.locator(".msg").textContent()) ?? "", /expected 1, got 2/);
      await failures.screenshot({ path: path.join(SHOTS, "run-failed-tests.png") });
      // The test's name and its message, where the job printed them.
      assert.equal(await item.locator(".where").textContent(), "In the log: line 3, line 4");
      await item.getByRole("link", { name: "line 3" }).click();
      await page.getByRole("log").waitFor();
      const target = page.locator(".l:target");
      assert.equal(await target.getAttribute("id"), "L3");
      assert.match((await target.textContent()) ?? "", /1\) parser rejects <bad> input/);
      assert.match(new URL(page.url()).pathname, /\/jobs\/unit$/);
    } finally {
      await page.close();
    }
  });

  it("groups matrix jobs, and shows the timeline: what waited for what", async () => {
    const page = await ctx.newPage();
    try {
      await page.goto(`${served.url}/runs/${runId}`);
      const matrix = page.locator("li.matrix");
      assert.equal(await matrix.count(), 1);
      assert.match(
        (await matrix.locator("summary").textContent()) ?? "",
        /^functional matrix 3 jobs: 3 passed$/,
      );
      const inGroup = await matrix.locator("li.job > .jobhead > a").allTextContents();
      assert.deepEqual(inGroup.sort(), [
        "functional-func-aws",
        "functional-func-azure",
        "functional-func-gcp",
      ]);
      // Folding the group hides its jobs.
      await matrix.locator("summary").click();
      assert.equal(await matrix.locator("li.job").first().isVisible(), false);

      const timeline = page.getByRole("region", { name: "Timeline" });
      const row = (job: string) =>
        timeline.locator("tbody tr", { has: page.getByRole("link", { name: job, exact: true }) });
      assert.equal(await timeline.locator("tbody tr").count(), 5);
      assert.equal(await row("build").locator("td").first().textContent(), "nothing");
      assert.match(
        (await row("unit").locator("td").first().textContent()) ?? "",
        /^build \(until \+[\d.]+m?s\)/,
      );
      const bar = row("unit").getByRole("img");
      assert.match(
        (await bar.getAttribute("aria-label")) ?? "",
        /^unit: waited for build, ran from \+/,
      );
      assert.equal(await bar.locator("rect.ran.s-failed").count(), 1);
      // Each job started after the job it needs had ended.
      const buildEnd = await row("build").locator("td").nth(2).textContent();
      const unitStart = await row("unit").locator("td").nth(1).textContent();
      assert.ok(buildEnd && unitStart);
      await timeline.screenshot({ path: path.join(SHOTS, "run-timeline.png") });
      await page.screenshot({ path: path.join(SHOTS, "run-page-full.png"), fullPage: true });
    } finally {
      await page.close();
    }
  });

  it("log lines carry timestamps, shown and hidden; a log without them still reads", async () => {
    const page = await ctx.newPage();
    try {
      await page.goto(`${served.url}/runs/${runId}/jobs/build`);
      const first = page.locator("#L1 time.ts");
      assert.equal(await first.isVisible(), false, "hidden by default");
      await page.getByRole("link", { name: "Show timestamps" }).click();
      await page.getByRole("link", { name: "Hide timestamps" }).waitFor();
      assert.equal(await first.isVisible(), true);
      assert.match((await first.textContent()) ?? "", /^\d\d:\d\d:\d\d\.\d{3}$/);
      const at = Date.parse((await first.getAttribute("datetime")) ?? "");
      assert.ok(at >= runStarted && at <= Date.now(), "written during the run");
      assert.equal(await page.locator("#L2 time.ts").isVisible(), true);
      await page.getByRole("log").screenshot({ path: path.join(SHOTS, "log-timestamps.png") });
      await page.getByRole("link", { name: "Hide timestamps" }).click();
      await page.getByRole("link", { name: "Show timestamps" }).waitFor();
      assert.equal(await first.isVisible(), false);

      // A log written before timestamps existed: its lines, and no toggle.
      rmSync(timesPathOf(path.join(p.dataDir, "logs", runId, "build.log")));
      await page.goto(`${served.url}/runs/${runId}/jobs/build`);
      assert.equal(await page.locator("#L2 .t").textContent(), "built");
      assert.equal(await page.locator("time.ts").count(), 0);
      assert.equal(await page.getByRole("link", { name: /timestamps/ }).count(), 0);
    } finally {
      await page.close();
    }
  });
});
