// Debian's chromium through playwright-core, as every console browser test launches it, and a
// context signed in with a one-time link.
import assert from "node:assert/strict";
import { type Browser, type BrowserContext, chromium } from "playwright-core";
import { createConsoleLink } from "../../src/web/auth/console-link.js";
import type { Console, Env } from "./helpers.js";

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
}

/** A browser context whose cookie is a trusted member's session. */
export async function signedInContext(
  browser: Browser,
  env: Env,
  c: Console,
  viewport = { width: 1200, height: 900 },
): Promise<BrowserContext> {
  const ctx = await browser.newContext({ viewport });
  const page = await ctx.newPage();
  await page.goto(await createConsoleLink(env.sessions, c.url));
  assert.equal(new URL(page.url()).pathname, "/runs");
  await page.close();
  return ctx;
}
