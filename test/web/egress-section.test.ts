// The job page's Network section over real HTTP: a job's connections, verdicts, bytes and the
// allow list that fits, with every job-chosen text escaped; nothing of it on public pages.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { EgressRecord } from "../../src/egress/record.js";
import { type Console, type Env, makeEnv, SHA, signInByLink, startConsole } from "./helpers.js";

const RECORD: EgressRecord = {
  mode: "enforce",
  dropped: 0,
  entries: [
    {
      via: "connect",
      host: "registry.npmjs.org",
      port: 443,
      address: "104.16.0.1",
      verdict: "allowed",
      count: 12,
      bytesOut: 40_960,
      bytesIn: 5 * 1024 * 1024,
      firstAt: 1,
    },
    {
      via: "http",
      host: "<script>x</script>.test",
      port: 80,
      address: null,
      verdict: "refused",
      reason: "<script>x</script>.test:80 is not in network.allow",
      count: 1,
      bytesOut: 0,
      bytesIn: 0,
      firstAt: 2,
    },
    {
      via: "dns",
      host: "exfil.test",
      port: null,
      address: null,
      verdict: "refused",
      reason: "exfil.test is not in network.allow (DNS lookup)",
      count: 2,
      bytesOut: 0,
      bytesIn: 0,
      firstAt: 3,
    },
  ],
};

describe("the job page's Network section", () => {
  let env: Env;
  let c: Console;
  let cookie: string;
  before(async () => {
    env = await makeEnv();
    await env.runs.create(
      { id: "run-e", source: "local", repo: "acme/app", ref: "main", sha: SHA },
      [
        {
          jobId: "fetch",
          template: "fetch",
          needs: [],
          secrets: ["cloud"],
          state: "pending",
          reason: "",
        },
        { jobId: "plain", template: "plain", needs: [], secrets: [], state: "pending", reason: "" },
      ],
    );
    await env.runs.updateJob("run-e", "fetch", { state: "passed", egress: RECORD });
    await env.runs.updateJob("run-e", "plain", { state: "passed" });
    c = await startConsole(env);
    cookie = await signInByLink(c, env);
  });
  after(async () => {
    await c.close();
    await env.cleanup();
  });

  const page = async (job: string) =>
    (await fetch(`${c.url}/runs/run-e/jobs/${job}`, { headers: { cookie } })).text();

  it("lists every destination with its verdict and bytes, and the allow list that fits", async () => {
    const html = await page("fetch");
    assert.match(html, /<h2 id="egress">Network<\/h2>/);
    assert.match(
      html,
      /<code>registry\.npmjs\.org<\/code><\/td><td>443<\/td><td>104\.16\.0\.1<\/td>/,
    );
    assert.match(html, /<td>12<\/td><td>40 KiB<\/td><td>5 MiB<\/td>/);
    assert.match(html, /exfil\.test/);
    assert.match(html, /This job connected to: registry\.npmjs\.org:443\./);
    assert.match(html, /network:\n {2}allow:\n {4}- &quot;registry\.npmjs\.org:443&quot;/);
    assert.ok(!html.includes("<script>x"), "a job-chosen host name is escaped");
    assert.ok(html.includes("&lt;script&gt;x&lt;/script&gt;.test"));
  });

  it("is absent for a job without an allow list", async () => {
    assert.doesNotMatch(await page("plain"), /id="egress"/);
  });

  it("needs a signed-in member, like the log", async () => {
    const r = await fetch(`${c.url}/runs/run-e/jobs/fetch`, { redirect: "manual" });
    assert.equal(r.status, 303);
  });
});
