// The console in a real browser (Debian's chromium through playwright-core): signing in, reading a
// restricted job's log, live lines, approving a SHA, the public summary, and untrusted users
// refused everywhere. Screenshots of the main pages go to test-results/console/.
import assert from "node:assert/strict";
import { appendFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { Browser, BrowserContext } from "playwright-core";
import { launchChromium, signedInContext } from "./browser.js";
import { type Console, type Env, makeEnv, SHA, seedRun, startConsole } from "./helpers.js";
import { type OAuthDouble, startOAuthDouble } from "./oauth-double.js";

const SHOTS = path.resolve("test-results/console");

describe("console in a browser", () => {
  let env: Env;
  let c: Console;
  let gh: OAuthDouble;
  let browser: Browser;

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    env = await makeEnv();
    await seedRun(env);
    await seedRun(env, "run-private", "acme/secret-project");
    await env.runs.create(
      {
        id: "run-wait",
        source: "github",
        repo: "acme/app",
        ref: "feature/x",
        sha: SHA,
        pr: 43,
        selection: { public: true },
        authorizedBy: null,
        notes: { kind: "public" },
      },
      [
        {
          jobId: "build",
          template: "build",
          needs: [],
          secrets: [],
          state: "passed",
          reason: "public job",
        },
      ],
    );
    await env.runs.setStatus("run-wait", "passed");
    gh = await startOAuthDouble("mallory");
    c = await startConsole(env, {
      trusted: (login) => login === "alice",
      auth: {
        github: {
          clientId: gh.clientId,
          clientSecret: gh.clientSecret,
          webUrl: gh.url,
          apiUrl: gh.apiUrl,
        },
      },
      console: {
        publicSummary: (run) => ({ enabled: run.repo === "acme/app" }),
      },
    });
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await c?.close();
    await gh?.close();
    await env?.cleanup();
  });

  const trustedContext = (): Promise<BrowserContext> => signedInContext(browser, env, c);

  it("a trusted member signs in with the one-time link and reads a restricted job's log", async () => {
    const ctx = await trustedContext();
    try {
      const page = await ctx.newPage();
      await page.goto(`${c.url}/runs`);
      await page.getByRole("link", { name: "run-1", exact: true }).waitFor();
      await page.screenshot({ path: path.join(SHOTS, "runs-list.png"), fullPage: true });

      await page.getByRole("link", { name: "run-1", exact: true }).click();
      await page.getByRole("heading", { name: /Run run-1/ }).waitFor();
      assert.ok(await page.getByText("not selected: no label names scaleway").isVisible());
      assert.ok(await page.getByText("AWS_ACCESS_KEY_ID v3, AWS_SECRET_ACCESS_KEY v3").isVisible());
      await page.screenshot({ path: path.join(SHOTS, "run-page.png"), fullPage: true });

      await page
        .getByRole("region", { name: "Jobs" })
        .getByRole("link", { name: "aws-infra", exact: true })
        .click();
      const log = page.getByRole("log");
      await log.getByText("RESTRICTED-LOG-LINE").waitFor();
      // Colours are spans with classes; markup in the log is text.
      assert.equal(await page.locator("#L4 .f1").textContent(), "Error:");
      assert.equal(await page.locator("#L2 .t").textContent(), "Initializing provider <aws>");
      // The group folds with its toggle, by keyboard too.
      await page.locator("#L1 .tog").focus();
      await page.keyboard.press("Enter");
      assert.equal(await page.locator("#L2").isHidden(), true);
      assert.equal(await page.locator("#L1 .tog").getAttribute("aria-expanded"), "false");
      await page.keyboard.press("Enter");
      assert.equal(await page.locator("#L2").isVisible(), true);
      await page.screenshot({ path: path.join(SHOTS, "log-view.png"), fullPage: true });

      // A line link opens that line; search finds it again.
      await page.goto(`${c.url}/runs/run-1/jobs/aws-infra#L5`);
      assert.ok(await page.locator("#L5:target").isVisible());
      await page.getByRole("searchbox", { name: "Search" }).fill("vpc limit");
      await page.getByRole("button", { name: "Search" }).click();
      await page.locator(".matches > li > a", { hasText: "Line 4" }).waitFor();

      // Narrow screens get the same page, readable.
      await page.setViewportSize({ width: 390, height: 800 });
      await page.goto(`${c.url}/runs/run-1`);
      await page.screenshot({ path: path.join(SHOTS, "run-page-phone.png"), fullPage: true });
    } finally {
      await ctx.close();
    }
  });

  it("an anonymous visitor is sent to sign-in and comes back after pasting an admin token", async () => {
    const { token } = await env.sessions.createToken({
      name: "browser",
      createdBy: "test",
      expiresAt: null,
    });
    const ctx = await browser.newContext();
    try {
      const page = await ctx.newPage();
      await page.goto(`${c.url}/runs/run-1/jobs/aws-infra`);
      assert.equal(new URL(page.url()).pathname, "/login");
      assert.equal(await page.getByText("RESTRICTED-LOG-LINE").count(), 0);
      await page.getByLabel(/Token/).fill(token);
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.getByRole("log").getByText("RESTRICTED-LOG-LINE").waitFor();
      assert.equal(new URL(page.url()).pathname, "/runs/run-1/jobs/aws-infra");
      assert.ok(await page.getByText("token:browser").isVisible());
    } finally {
      await ctx.close();
    }
  });

  it("a signed-in GitHub user who is not a member gets 403 on every private URL", async () => {
    const ctx = await browser.newContext();
    try {
      const page = await ctx.newPage();
      await page.goto(`${c.url}/login`);
      await page.getByRole("link", { name: "Sign in with GitHub" }).click();
      await page.getByRole("heading", { name: "Not a trusted member" }).waitFor();
      assert.ok(await page.getByText("mallory").first().isVisible());
      const csrf = await page.locator('input[name="_csrf"]').first().inputValue();
      assert.deepEqual(gh.violations, []);

      const sub = (url: string) =>
        url.replace(":run", "run-1").replace(":job", "aws-infra").replace(":action", "approve");
      const publicRoute = (url: string) =>
        url === "/" ||
        url === "/favicon.ico" ||
        url.startsWith("/login") ||
        url === "/logout" ||
        url.startsWith("/console/assets/") ||
        url.startsWith("/public/") ||
        url.startsWith("/api/public/");
      const privateRoutes = c.routes.filter((r) => !publicRoute(r.url));
      assert.ok(privateRoutes.length >= 12, `only ${privateRoutes.length} private routes seen`);
      const urls = new Set(privateRoutes.map((r) => r.url));
      for (const must of ["/runs/:run/jobs/:job/log.txt", "/runs/:run/jobs/:job/log/stream"]) {
        assert.ok(urls.has(must), `${must} is not a route`);
      }
      for (const r of privateRoutes) {
        const url = `${c.url}${sub(r.url)}`;
        const res =
          r.method === "POST"
            ? await ctx.request.post(url, {
                form: { _csrf: csrf, sha: SHA },
                headers: { origin: c.url },
                maxRedirects: 0,
              })
            : await ctx.request.fetch(url, { method: r.method, maxRedirects: 0 });
        assert.equal(res.status(), 403, `${r.method} ${r.url} answered ${res.status()}`);
        const text = await res.text();
        assert.ok(
          !text.includes("RESTRICTED-LOG-LINE") && !text.includes("aws-infra"),
          `${r.method} ${r.url} leaked`,
        );
      }
      assert.equal(c.calls.length, 0, "no action ran for an untrusted user");
    } finally {
      await ctx.close();
    }
  });

  it("a live job's new lines appear within a second, and the view notes when it ends", async () => {
    const ctx = await trustedContext();
    try {
      const page = await ctx.newPage();
      await page.goto(`${c.url}/runs/run-1/jobs/live-job`);
      await page.getByText("starting live job").waitFor();
      await page.getByText(/Live: new lines appear/).waitFor();
      // Let the stream connect before writing, then time only the write → display path.
      await page.waitForTimeout(300);
      for (let i = 1; i <= 3; i++) {
        const t0 = Date.now();
        appendFileSync(env.logs.pathOf("run-1", "live-job"), `\x1b[33mstep ${i} <done>\x1b[0m\n`);
        await page.getByText(`step ${i} <done>`).waitFor({ timeout: 1000 });
        assert.ok(Date.now() - t0 < 1000, `line ${i} took ${Date.now() - t0} ms`);
      }
      assert.equal(await page.locator("#L4 .f3").textContent(), "step 3 <done>");
      await env.runs.updateJob("run-1", "live-job", { state: "passed", finishedAt: Date.now() });
      await page.getByText("The job has finished.").waitFor({ timeout: 3000 });
    } finally {
      await ctx.close();
    }
  });

  it("approve-this-SHA posts the page's SHA and calls the gateway, only where it can act", async () => {
    const ctx = await trustedContext();
    try {
      const page = await ctx.newPage();
      const approveButton = page.getByRole("button", {
        name: `Approve ${SHA.slice(0, 12)} and run restricted jobs`,
      });
      // run-1 is authorised already: nothing to approve; it runs, so it can be cancelled.
      await page.goto(`${c.url}/runs/run-1`);
      await page.getByRole("button", { name: "Cancel run" }).waitFor();
      assert.equal(await approveButton.count(), 0);
      // run-wait ran the public jobs only: its restricted jobs wait for an approval.
      await page.goto(`${c.url}/runs/run-wait`);
      assert.equal(
        (await page.locator('dt:text-is("Selection") + dd').textContent())?.trim(),
        "public jobs only (restricted jobs wait for an approval)",
      );
      assert.equal(await page.getByRole("button", { name: "Cancel run" }).count(), 0);
      await page.screenshot({ path: path.join(SHOTS, "run-waiting-approval.png"), fullPage: true });
      await approveButton.click();
      await page
        .getByRole("status")
        .getByText(/Approved 3f786850e387/)
        .waitFor();
      const approve = c.calls.filter((x) => x.action === "approve");
      assert.equal(approve.length, 1);
      assert.equal(approve[0]?.sha, SHA);
      assert.equal(approve[0]?.actor, "local-admin");
      const audit = await env.audit.list({ run: "run-wait", action: "console-approve" });
      assert.equal(audit.at(-1)?.actor, "local-admin");
      // The same form with a forged token is refused.
      const forged = await ctx.request.post(`${c.url}/runs/run-wait/approve`, {
        form: { _csrf: "forged", sha: SHA },
        headers: { origin: c.url },
      });
      assert.equal(forged.status(), 403);
      assert.equal(c.calls.filter((x) => x.action === "approve").length, 1);
    } finally {
      await ctx.close();
    }
  });

  it("the public summary shows test results, and no log line or restricted failure text", async () => {
    const ctx = await browser.newContext();
    try {
      const page = await ctx.newPage();
      const res = await page.goto(`${c.url}/public/runs/run-1`);
      assert.equal(res?.status(), 200);
      await page.getByText("parses <config>").waitFor();
      assert.ok(await page.getByText("deletes a VPC").isVisible());
      assert.ok(await page.getByText("expected 1, got 2").isVisible(), "public job failure shown");
      const body = await page.content();
      for (const hidden of [
        "RESTRICTED-LOG-LINE",
        "npm ci",
        "restricted failure detail",
        "VPC limit exceeded",
        "redacted:",
        "AWS_ACCESS_KEY_ID",
        "selected by label",
      ]) {
        assert.ok(!body.includes(hidden), `public page shows ${hidden}`);
      }
      await page.screenshot({ path: path.join(SHOTS, "public-summary.png"), fullPage: true });
      const off = await page.goto(`${c.url}/public/runs/run-private`);
      assert.equal(off?.status(), 404);
    } finally {
      await ctx.close();
    }
  });
});
