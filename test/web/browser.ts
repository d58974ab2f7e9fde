// Debian's chromium through playwright-core, as every console browser test launches it, and a
// context signed in with a one-time link.
import assert from "node:assert/strict";
import { type Browser, type BrowserContext, chromium } from "playwright-core";
import { createConsoleLink } from "../../src/web/auth/console-link.js";
import { type Served, startServe } from "../serve/helpers.js";
import type { Project } from "../support/project.js";
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

export interface ServedConsole {
  readonly served: Served;
  /** Signed in through `airlock serve`'s one-time link. */
  readonly ctx: BrowserContext;
  close(): Promise<void>;
}

/** `airlock serve` on a project's data directory, and chromium signed in as its local user. */
export async function serveProjectConsole(p: Project): Promise<ServedConsole> {
  const served = await startServe([], { cwd: p.repo, env: p.env(), expectLink: true });
  const browser = await launchChromium().catch(async (e) => {
    await served.stop();
    throw e;
  });
  // The link works once: one signed-in context for every test of the file.
  const ctx = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  const page = await ctx.newPage();
  await page.goto(served.link!);
  await page.close();
  return {
    served,
    ctx,
    async close() {
      await ctx.close();
      await browser.close();
      await served.stop();
    },
  };
}
