// The console over real HTTP on loopback: who may see what, cookies, CSRF, the JSON API, log
// download and the live stream.
import assert from "node:assert/strict";
import { appendFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import {
  type Console,
  csrfOf,
  type Env,
  makeEnv,
  SHA,
  seedRun,
  signInByLink,
  startConsole,
} from "./helpers.js";

describe("console over HTTP", () => {
  let env: Env;
  let c: Console;
  let cookie: string;
  before(async () => {
    env = await makeEnv();
    await seedRun(env);
    c = await startConsole(env);
    cookie = await signInByLink(c, env);
  });
  after(async () => {
    await c.close();
    await env.cleanup();
  });

  const get = (path: string, headers: Record<string, string> = {}) =>
    fetch(`${c.url}${path}`, { headers, redirect: "manual" });

  it("sends anonymous readers of a page to sign-in, and answers 401 to API and stream clients", async () => {
    const page = await get("/runs/run-1");
    assert.equal(page.status, 303);
    assert.equal(page.headers.get("location"), "/login?next=%2Fruns%2Frun-1");
    for (const p of [
      "/api/runs",
      "/runs/run-1/jobs/aws-infra/log.txt",
      "/runs/run-1/jobs/live-job/log/stream",
    ]) {
      const r = await get(p);
      assert.equal(r.status, 401, p);
      assert.ok(!(await r.text()).includes("RESTRICTED"));
    }
    const login = await get("/login?next=%2Fruns%2Frun-1");
    assert.equal(login.status, 200);
    assert.match(await login.text(), /value="\/runs\/run-1"/);
  });

  it("the one-time link sets a HttpOnly, SameSite=Lax cookie and works only once", async () => {
    const { createConsoleLink } = await import("../../src/web/auth/console-link.js");
    const link = await createConsoleLink(env.sessions, c.url);
    assert.equal((await fetch(link, { method: "HEAD", redirect: "manual" })).status, 200);
    const first = await fetch(link, { redirect: "manual" });
    assert.equal(first.status, 303);
    assert.equal(first.headers.get("location"), "/runs");
    const set = first.headers.get("set-cookie") ?? "";
    assert.match(
      set,
      /^airlock_session=[A-Za-z0-9_-]+; Path=\/; Max-Age=\d+; HttpOnly; SameSite=Lax$/,
    );
    assert.equal(first.headers.get("referrer-policy"), "same-origin");
    const again = await fetch(link, { redirect: "manual" });
    assert.equal(again.status, 401);
    assert.equal(again.headers.get("set-cookie"), null);
  });

  it("marks cookies Secure behind a TLS proxy when told to trust it", async () => {
    const proxied = await startConsole(env, { auth: { trustProxy: true } });
    try {
      const { createConsoleLink } = await import("../../src/web/auth/console-link.js");
      const link = await createConsoleLink(env.sessions, proxied.url);
      const r = await fetch(link, {
        redirect: "manual",
        headers: { "x-forwarded-proto": "https" },
      });
      assert.match(r.headers.get("set-cookie") ?? "", /; Secure$/);
      // Without trust, the same header is ignored.
      const link2 = await createConsoleLink(env.sessions, c.url);
      const r2 = await fetch(link2, {
        redirect: "manual",
        headers: { "x-forwarded-proto": "https" },
      });
      assert.doesNotMatch(r2.headers.get("set-cookie") ?? "", /Secure/);
    } finally {
      await proxied.close();
    }
  });

  it("an admin token works as a bearer token for the API, and signs in through the form", async () => {
    const { token } = await env.sessions.createToken({
      name: "api",
      createdBy: "test",
      expiresAt: null,
    });
    const r = await get("/api/runs", { authorization: `Bearer ${token}` });
    assert.equal(r.status, 200);
    const body = (await r.json()) as { runs: { id: string }[] };
    assert.deepEqual(
      body.runs.map((x) => x.id),
      ["run-1"],
    );
    assert.equal((await get("/api/runs", { authorization: "Bearer airlock_wrong" })).status, 401);
    // The form: an open redirect in `next` is replaced by /runs.
    const form = await fetch(`${c.url}/login/token`, {
      method: "POST",
      redirect: "manual",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ token, next: "//evil.example/x" }),
    });
    assert.equal(form.status, 303);
    assert.equal(form.headers.get("location"), "/runs");
    const bad = await fetch(`${c.url}/login/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ token: "airlock_nope" }),
    });
    assert.equal(bad.status, 401);
  });

  it("the run page says why each job ended and its last log line, linked to it in the log", async () => {
    const html = await (await get("/runs/run-1", { cookie })).text();
    const item = (id: string) => {
      const at = html.indexOf(`/runs/run-1/jobs/${id}"`, html.indexOf(`id="jobs"`));
      return html.slice(at, html.indexOf("</li>", at));
    };
    assert.match(item("aws-infra"), /<dt>Ended<\/dt><dd class="err">exit code 1<\/dd>/);
    assert.match(
      item("aws-infra"),
      /<dt>Last line<\/dt><dd><a class="lastline" href="\/runs\/run-1\/jobs\/aws-infra\?q=RESTRICTED-LOG-LINE[^"]*"><code>RESTRICTED-LOG-LINE token=\[redacted:AWS_SECRET_ACCESS_KEY\]<\/code>/,
    );
    // A passed job has neither; a skipped one has its reason under "Why" only.
    assert.doesNotMatch(item("build"), /Ended|Last line/);
    assert.doesNotMatch(item("scw-infra"), /Ended|Last line/);
    // The link finds the line in the log.
    const href = /class="lastline" href="([^"]+)"/
      .exec(item("aws-infra"))![1]!
      .replaceAll("&amp;", "&");
    const found = await (await get(href, { cookie })).text();
    assert.match(found, /Lines containing/);
    assert.match(found, /#L5">Line 5<\/a>/);
  });

  it("filters and pages the runs list; escapes the branch and test names it shows", async () => {
    await env.runs.create(
      { id: "run-2", source: "local", repo: "other", ref: "main", sha: "a".repeat(40) },
      [
        {
          jobId: "lint",
          template: "lint",
          needs: [],
          secrets: [],
          state: "passed",
          reason: "public job",
        },
      ],
    );
    const byJob = await (await get("/api/runs?job=functional", { cookie })).json();
    assert.deepEqual(
      (byJob as { runs: { id: string }[] }).runs.map((r) => r.id),
      ["run-1"],
    );
    const byRepo = await (await get("/api/runs?repo=other", { cookie })).json();
    assert.deepEqual(
      (byRepo as { runs: { id: string }[] }).runs.map((r) => r.id),
      ["run-2"],
    );
    const paged = await (await get("/api/runs?limit=1", { cookie })).json();
    assert.equal((paged as { more: boolean }).more, true);
    const run = await (await get("/runs/run-1", { cookie })).text();
    assert.ok(run.includes("feature/&lt;b&gt;branch&lt;/b&gt;"));
    assert.ok(!run.includes("<b>branch"));
    assert.ok(run.includes(`https://github.com/acme/app/pull/42`));
    assert.ok(run.includes(`https://github.com/acme/app/commit/${SHA}`));
    assert.ok(run.includes("AWS_ACCESS_KEY_ID v3"));
    assert.ok(run.includes("not selected: no label names scaleway"));
  });

  it("pages and searches a log, and downloads it whole", async () => {
    const page = await (await get("/runs/run-1/jobs/aws-infra", { cookie })).text();
    assert.match(page, /<span class="f1">Error:<\/span> VPC limit exceeded/);
    assert.match(page, /Initializing provider &lt;aws&gt;/);
    assert.match(page, /data-group="start"/);
    const search = await (await get("/runs/run-1/jobs/aws-infra?q=vpc", { cookie })).text();
    assert.match(search, /Line 4/);
    const api = (await (
      await get("/api/runs/run-1/jobs/aws-infra/log?from=4&lines=1", { cookie })
    ).json()) as {
      lines: { n: number; text: string; at?: number }[];
    };
    assert.deepEqual(
      api.lines.map((l) => l.n),
      [4],
    );
    // When the line was written, kept beside the log as it was written.
    assert.ok(Math.abs(Date.now() - (api.lines[0]?.at ?? 0)) < 3600_000, JSON.stringify(api));
    const dl = await get("/runs/run-1/jobs/aws-infra/log.txt", { cookie });
    assert.equal(dl.status, 200);
    assert.match(dl.headers.get("content-disposition") ?? "", /attachment/);
    assert.equal(await dl.text(), await env.logs.read("run-1", "aws-infra"));
    assert.equal(
      (await get("/runs/run-1/jobs/..%2F..%2Fairlock.db/log.txt", { cookie })).status,
      404,
    );
  });

  it("streams new lines of a running job and ends when it finishes", async () => {
    await env.runs.create(
      { id: "run-live", source: "local", repo: "r", ref: null, sha: "b".repeat(40) },
      [{ jobId: "j", template: "j", needs: [], secrets: [], state: "running", reason: "" }],
    );
    const file = env.logs.pathOf("run-live", "j");
    env.logs.writer("run-live", "j").end("one\n");
    await new Promise((r) => setTimeout(r, 50));
    const res = await fetch(`${c.url}/runs/run-live/jobs/j/log/stream?line=2&byte=4`, {
      headers: { cookie },
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /text\/event-stream/);
    const reader = res.body!.getReader();
    let text = "";
    const until = async (re: RegExp, ms: number) => {
      const deadline = Date.now() + ms;
      while (!re.test(text)) {
        const left = deadline - Date.now();
        assert.ok(left > 0, `no ${re} within ${ms} ms in: ${text}`);
        const chunk = await Promise.race([
          reader.read(),
          new Promise<never>((_, rej) =>
            setTimeout(() => rej(new Error(`timeout waiting for ${re}`)), left),
          ),
        ]);
        if (chunk.done) break;
        text += new TextDecoder().decode(chunk.value);
      }
    };
    const t0 = Date.now();
    appendFileSync(file, "two <b>\n");
    await until(/two &lt;b&gt;/, 1000);
    assert.ok(Date.now() - t0 < 1000);
    assert.match(text, /id: 3:/);
    assert.ok(!text.includes("one"), "resumes after the lines the page had");
    appendFileSync(file, "three");
    await env.runs.updateJob("run-live", "j", { state: "passed", finishedAt: Date.now() });
    await until(/event: end/, 2000);
    assert.match(text, /three/);
  });

  it("actions need the session's CSRF token and a same-origin request", async () => {
    const page = await (await get("/runs/run-1", { cookie })).text();
    const csrf = csrfOf(page);
    const post = (body: Record<string, string>, headers: Record<string, string> = {}) =>
      fetch(`${c.url}/runs/run-1/approve`, {
        method: "POST",
        redirect: "manual",
        headers: { cookie, "content-type": "application/x-www-form-urlencoded", ...headers },
        body: new URLSearchParams(body),
      });
    assert.equal((await post({ sha: SHA })).status, 403);
    assert.equal((await post({ sha: SHA, _csrf: "forged" })).status, 403);
    assert.equal(
      (await post({ sha: SHA, _csrf: csrf }, { origin: "https://evil.example" })).status,
      403,
    );
    assert.equal(
      (await post({ sha: SHA, _csrf: csrf }, { "sec-fetch-site": "cross-site" })).status,
      403,
    );
    assert.equal(c.calls.length, 0);
    // A stale page (another SHA) approves nothing.
    const stale = await post({ sha: "c".repeat(40), _csrf: csrf }, { origin: c.url });
    assert.equal(stale.status, 409);
    assert.equal(c.calls.length, 0);
    const ok = await post({ sha: SHA, _csrf: csrf }, { origin: c.url });
    assert.equal(ok.status, 200);
    assert.deepEqual(c.calls, [
      {
        action: "approve",
        run: { id: "run-1", repo: "acme/app", pr: 42, sha: SHA },
        sha: SHA,
        actor: "local-admin",
      },
    ]);
    const audit = await env.audit.list({ run: "run-1", action: "console-approve" });
    assert.equal(audit.length, 2);
    assert.equal(audit[1]?.actor, "local-admin");
  });

  it("every response carries a strict Content-Security-Policy", async () => {
    const r = await get("/runs", { cookie });
    assert.match(r.headers.get("content-security-policy") ?? "", /script-src 'self'/);
    assert.equal(r.headers.get("x-frame-options"), "DENY");
    assert.equal(r.headers.get("cache-control"), "no-store");
  });

  it("leaves the gateway's own routes alone", async () => {
    assert.equal((await get("/healthz")).status, 200);
    const hook = await fetch(`${c.url}/webhooks/github`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", "x-github-event": "ping" },
      body: "payload=%7B%7D",
    });
    assert.equal(hook.status, 401);
  });
});
