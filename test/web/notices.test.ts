// The console's warning banner: while the serve config allows public jobs without memory and
// process limits, every signed-in page says so; the sign-in page and outsiders' pages do not.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { serveNotices } from "../../src/cli/commands/serve.js";
import { loadServeConfig } from "../../src/gateway/serve-config.js";
import { type Console, type Env, makeEnv, seedRun, signInByLink, startConsole } from "./helpers.js";

describe("console: the unlimited-public-jobs banner", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "airlock-notices-"));
  const config = (text: string) => {
    const file = path.join(dir, "serve.yml");
    writeFileSync(file, text);
    return loadServeConfig({ file, env: {}, projectDir: dir });
  };
  let env: Env;
  let c: Console;
  let cookie: string;
  before(async () => {
    env = await makeEnv();
    await seedRun(env);
    const notices = serveNotices(config("limits:\n  allow_unlimited_public_jobs: true\n"));
    c = await startConsole(env, { console: { notices } });
    cookie = await signInByLink(c, env);
  });
  after(async () => {
    await c.close();
    await env.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it("is there only while the switch is on", () => {
    assert.deepEqual(serveNotices(config("listen: 127.0.0.1:8080\n")), []);
    assert.deepEqual(serveNotices(config("limits:\n  allow_unlimited_public_jobs: false\n")), []);
    assert.equal(serveNotices(config("limits:\n  allow_unlimited_public_jobs: true\n")).length, 1);
  });

  it("every signed-in page shows it; the sign-in page does not", async () => {
    for (const p of ["/runs", "/runs/run-1", "/runs/run-1/jobs/aws-infra", "/audit"]) {
      const res = await fetch(`${c.url}${p}`, { headers: { cookie } });
      assert.equal(res.status, 200, p);
      const page = await res.text();
      assert.match(
        page,
        /<p class="notice" role="alert">limits\.allow_unlimited_public_jobs is on: .*without memory and process limits/,
        p,
      );
    }
    const login = await (await fetch(`${c.url}/login`)).text();
    assert.doesNotMatch(login, /class="notice"/);
  });
});
