// The audit log in a real browser (Debian's chromium through playwright-core): a member pages
// through a few hundred entries by keyboard, applies filters through the labelled form, and reads
// the page on a phone-sized screen. Screenshots go beside the console's others.
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { Browser, BrowserContext } from "playwright-core";
import { launchChromium, signedInContext } from "./browser.js";
import { type Console, type Env, makeEnv, startConsole } from "./helpers.js";

const SHOTS = path.resolve("test-results/console");
const T0 = Date.UTC(2024, 4, 1, 8, 0, 0);
const COUNT = 320;

describe("audit log in a browser", () => {
  let env: Env;
  let c: Console;
  let browser: Browser;

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    env = await makeEnv();
    const actors = ["airlock", "alice", "bob", "token:ops"];
    const actions = ["release", "release", "reveal", "console-approve", "rotate", "sign-in"];
    for (let i = 0; i < COUNT; i++) {
      const action = actions[i % actions.length] as string;
      const secret = action === "release" || action === "reveal" || action === "rotate";
      await env.audit.record({
        action,
        actor: actors[i % actors.length] as string,
        ...(action === "release" ? { runId: `run-${100 + (i % 12)}`, jobId: "aws-infra" } : {}),
        ...(secret ? { set: i % 5 ? "functional-tests" : "dns-provider" } : {}),
        ...(action === "reveal" ? { key: "AWS_SECRET_ACCESS_KEY" } : {}),
        ...(secret ? { versions: { AWS_ACCESS_KEY_ID: 3, AWS_SECRET_ACCESS_KEY: 3 } } : {}),
        ...(action === "console-approve" ? { detail: "done: Approved 3f786850e387" } : {}),
        ...(action === "sign-in" ? { detail: "via github" } : {}),
        at: T0 + i * 97_000,
      });
    }
    c = await startConsole(env);
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await c?.close();
    await env?.cleanup();
  });

  const trustedContext = (width = 1200): Promise<BrowserContext> =>
    signedInContext(browser, env, c, { width, height: 900 });

  it("pages through every entry with the keyboard, older then newer", async () => {
    const ctx = await trustedContext();
    try {
      const page = await ctx.newPage();
      await page.goto(`${c.url}/audit`);
      await page.getByRole("heading", { name: "Audit log" }).waitFor();
      await page.screenshot({ path: path.join(SHOTS, "audit.png"), fullPage: true });
      const total = (await env.audit.list()).length;
      assert.ok(total > COUNT, "the sign-in was recorded too");

      const rowIds = () =>
        page.locator("tbody tr").evaluateAll((rows) => rows.map((r) => Number(r.id.slice(1))));
      const pager = page.getByRole("navigation", { name: "Audit pages" });
      const seen: number[] = [];
      const firstOfPage: number[] = [];
      for (let n = 0; n < 50; n++) {
        const ids = await rowIds();
        seen.push(...ids);
        firstOfPage.push(ids[0] as number);
        const older = pager.getByRole("link", { name: "Older" });
        if ((await older.count()) === 0) break;
        const href = new URL((await older.getAttribute("href")) as string, c.url).toString();
        await older.focus();
        await page.keyboard.press("Enter");
        await page.waitForURL(href);
      }
      assert.equal(seen.length, total);
      assert.deepEqual(
        seen,
        Array.from({ length: total }, (_, i) => total - i),
        "every entry once, newest first",
      );
      assert.equal(firstOfPage.length, Math.ceil(total / 50));

      // Back to the newest, one "Newer" at a time, landing on the same pages.
      for (let k = firstOfPage.length - 2; k >= 0; k--) {
        const newer = pager.getByRole("link", { name: "Newer" });
        const href = new URL((await newer.getAttribute("href")) as string, c.url).toString();
        await newer.focus();
        await page.keyboard.press("Enter");
        await page.waitForURL(href);
        assert.equal((await rowIds())[0], firstOfPage[k]);
      }
      assert.equal(await pager.getByRole("link", { name: "Newer" }).count(), 0);
    } finally {
      await ctx.close();
    }
  });

  it("filters through the labelled form; the filtered view is a link that reloads the same", async () => {
    const ctx = await trustedContext();
    try {
      const page = await ctx.newPage();
      await page.goto(`${c.url}/audit`);
      const form = page.getByRole("search", { name: "Filter the audit log" });
      await form.getByLabel("Kind").selectOption("release");
      await form.getByLabel("Secret set").fill("dns-provider");
      await form.getByLabel("From (UTC)").fill("2024-05-01 09:00");
      await form.getByLabel("Until (UTC, inclusive)").fill("2024-05-01");
      await form.getByLabel("Who").fill("alice");
      await form.getByLabel("Who").press("Enter");
      await page.waitForURL(/kind=release/);
      const url = new URL(page.url());
      assert.equal(url.searchParams.get("set"), "dns-provider");
      assert.equal(url.searchParams.get("actor"), "alice");
      // The fields left empty (the run) are not in the link.
      assert.equal(url.searchParams.has("run"), false, url.search);
      assert.ok(![...url.searchParams.values()].includes(""), url.search);

      const want = (await env.audit.list())
        .filter(
          (r) =>
            r.action === "release" &&
            r.set === "dns-provider" &&
            r.actor === "alice" &&
            r.at >= Date.UTC(2024, 4, 1, 9, 0) &&
            r.at < Date.UTC(2024, 4, 2),
        )
        .map((r) => r.seq)
        .reverse();
      assert.ok(want.length > 2, `only ${want.length} matching entries seeded`);
      const rows = page.locator("tbody tr");
      assert.deepEqual(await rows.evaluateAll((rs) => rs.map((r) => Number(r.id.slice(1)))), want);
      for (const text of await rows.locator('td[data-label="Action"]').allTextContents()) {
        assert.equal(text, "release");
      }
      await page.screenshot({ path: path.join(SHOTS, "audit-filtered.png"), fullPage: true });

      // A link to the view shows the same entries in a fresh tab.
      const again = await ctx.newPage();
      await again.goto(url.toString());
      assert.equal(await again.locator("tbody tr").count(), want.length);
      assert.equal(await again.getByLabel("Who").inputValue(), "alice");

      // A bad value is named, and the form is still there to correct it.
      const bad = await again.goto(`${c.url}/audit?since=tomorrow`);
      assert.equal(bad?.status(), 400);
      assert.match((await again.getByRole("alert").textContent()) ?? "", /^since: "tomorrow"/);
      await again.getByLabel("From (UTC)").fill("2024-05-01");
      await again.getByRole("button", { name: "Filter" }).click();
      await again.waitForURL(/since=2024-05-01(&|$)/);
      assert.equal(await again.getByRole("alert").count(), 0);
    } finally {
      await ctx.close();
    }
  });

  it("a phone shows each entry as a labelled card, with nothing wider than the screen", async () => {
    const ctx = await trustedContext(390);
    try {
      const page = await ctx.newPage();
      await page.goto(`${c.url}/audit?limit=8`);
      const overflow = await page
        .locator("html")
        .evaluate((root) => root.scrollWidth - root.clientWidth);
      assert.ok(overflow <= 0, `the page scrolls sideways by ${overflow}px`);
      // The column headers are off screen; each cell names itself.
      const head = await page.locator("thead").boundingBox();
      assert.ok(
        head && head.height <= 1 && head.width <= 1,
        "the header row is for screen readers",
      );
      const label = await page
        .locator('tbody tr:first-child td[data-label="When"]')
        .evaluate((td) => td.ownerDocument.defaultView?.getComputedStyle(td, "::before").content);
      assert.equal(label, '"When"');
      const first = await page.locator("tbody tr").first().boundingBox();
      assert.ok(first && first.width <= 390, "an entry fits the screen");
      await page.screenshot({ path: path.join(SHOTS, "audit-phone.png"), fullPage: true });
    } finally {
      await ctx.close();
    }
  });
});
