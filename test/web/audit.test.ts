// The console's audit log over real HTTP: who may read it and its downloads, paging by the links
// the page itself shows, filters as query parameters, 400s that name the bad parameter, and the
// CSV / JSON-lines downloads.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type Console, type Env, makeEnv, signInByLink, startConsole } from "./helpers.js";

const T0 = Date.UTC(2024, 4, 1, 12, 0, 0);
const PRIVATE = ["/audit", "/audit.csv", "/audit.jsonl", "/audit?kind=release&actor=alice"];

/** Entry numbers on a page, in the order shown. */
const entriesOf = (html: string) =>
  [...html.matchAll(/<tr role="row" id="e(\d+)"/g)].map((m) => Number(m[1]));
const linkOf = (html: string, rel: "prev" | "next") => {
  const m = new RegExp(`<a href="([^"]+)" rel="${rel}">`).exec(html);
  return m ? (m[1] as string).replace(/&amp;/g, "&") : undefined;
};

describe("audit log in the console", () => {
  let env: Env;
  let c: Console;
  let cookie: string;
  let untrusted: string;
  let total: number;

  before(async () => {
    env = await makeEnv();
    for (let i = 0; i < 230; i++) {
      await env.audit.record({
        action: ["release", "reveal", "console-cancel", "token-create"][i % 4] as string,
        actor: i % 5 === 0 ? "alice" : "airlock",
        runId: i % 10 === 0 ? "run-7" : `run-${i}`,
        set: i % 2 === 0 ? "functional-tests" : "dns",
        versions: { AWS_SECRET_ACCESS_KEY: (i % 3) + 1 },
        detail: `entry ${i}`,
        at: T0 + i * 60_000,
      });
    }
    // Text from outside the team, as a detail and an actor: escaped on the page, inert in a sheet.
    await env.audit.record({
      action: "console-approve",
      actor: "<img src=x onerror=alert(1)>",
      detail: '=HYPERLINK("http://evil.example"),"quoted"\nsecond line',
      at: T0 + 231 * 60_000,
    });
    c = await startConsole(env, {
      trusted: (login) => login !== "mallory",
      console: { pageAudit: 40 },
    });
    cookie = await signInByLink(c, env);
    const sid = await env.sessions.createSession({
      login: "mallory",
      via: "github",
      ttlMs: 60_000,
    });
    untrusted = `airlock_session=${sid}`;
    total = (await env.audit.list()).length;
  });
  after(async () => {
    await c.close();
    await env.cleanup();
  });

  const get = (path: string, headers: Record<string, string> = {}) =>
    fetch(`${c.url}${path}`, { headers, redirect: "manual" });

  it("sends anonymous readers of the page and the downloads to sign-in; the API answers 401", async () => {
    for (const p of PRIVATE) {
      const r = await get(p);
      assert.equal(r.status, 303, p);
      assert.equal(r.headers.get("location"), `/login?next=${encodeURIComponent(p)}`, p);
      assert.ok(!(await r.text()).includes("entry 1"), p);
    }
    const api = await get("/api/audit");
    assert.equal(api.status, 401);
  });

  it("refuses a signed-in member who is not trusted, with 403 and no entry", async () => {
    for (const p of [...PRIVATE, "/api/audit"]) {
      const r = await get(p, { cookie: untrusted });
      assert.equal(r.status, 403, p);
      const text = await r.text();
      assert.ok(!text.includes("entry 1") && !text.includes("functional-tests"), `${p} leaked`);
    }
  });

  it("pages through every entry with the page's own older and newer links", async () => {
    const seen: number[] = [];
    const pages: number[][] = [];
    let url: string | undefined = "/audit";
    while (url) {
      const r = await get(url, { cookie });
      assert.equal(r.status, 200, url);
      const html = await r.text();
      pages.push(entriesOf(html));
      seen.push(...entriesOf(html));
      url = linkOf(html, "next");
    }
    assert.equal(pages.length, Math.ceil(total / 40));
    assert.deepEqual(
      seen,
      Array.from({ length: total }, (_, i) => total - i),
    );
    // And back up from the oldest page, one newer link at a time.
    const up: number[][] = [];
    url = `/audit?before=${(pages.at(-1)?.[0] ?? 0) + 1}`;
    while (url) {
      const html = await (await get(url, { cookie })).text();
      up.push(entriesOf(html));
      url = linkOf(html, "prev");
    }
    assert.deepEqual(up.reverse(), pages);
  });

  it("filters by kind, actor, run, set and time, and keeps the filters in its links", async () => {
    const html = await (await get("/audit?kind=release&actor=alice&limit=5", { cookie })).text();
    const all = (await env.audit.list()).reverse();
    const want = all.filter((r) => r.action === "release" && r.actor === "alice").map((r) => r.seq);
    assert.deepEqual(entriesOf(html), want.slice(0, 5));
    const older = linkOf(html, "next") ?? "";
    for (const kept of ["kind=release", "actor=alice", "limit=5"]) {
      assert.ok(older.includes(kept), `the older link ${older} lacks ${kept}`);
    }
    assert.deepEqual(entriesOf(await (await get(older, { cookie })).text()), want.slice(5, 10));
    // The form shows the filter it applied.
    assert.match(html, /<option value="release" selected>/);
    assert.match(html, /id="f-actor" name="actor" value="alice"/);

    const byRun = entriesOf(await (await get("/audit?run=run-7", { cookie })).text());
    assert.deepEqual(
      byRun,
      all.filter((r) => r.runId === "run-7").map((r) => r.seq),
    );
    const bySet = entriesOf(await (await get("/audit?set=dns&limit=500", { cookie })).text());
    assert.deepEqual(
      bySet,
      all.filter((r) => r.set === "dns").map((r) => r.seq),
    );
    const byTime = await (
      await get(`/audit?since=${encodeURIComponent("2024-05-01 12:10")}&until=2024-05-01T12:14`, {
        cookie,
      })
    ).text();
    assert.deepEqual(
      entriesOf(byTime),
      all.filter((r) => r.at >= T0 + 10 * 60_000 && r.at < T0 + 15 * 60_000).map((r) => r.seq),
    );
    assert.equal(entriesOf(byTime).length, 5);
    const group = entriesOf(await (await get("/audit?kind=console&limit=500", { cookie })).text());
    assert.deepEqual(
      group,
      all.filter((r) => r.action.startsWith("console-")).map((r) => r.seq),
    );
  });

  it("answers 400 naming the parameter for bad query values, never a stack trace", async () => {
    const cases: [string, RegExp][] = [
      ["/audit?since=yesterday", /since: &quot;yesterday&quot; is not a UTC date/],
      ["/audit?until=2024-02-30", /until: &quot;2024-02-30&quot; is not a UTC date/],
      ["/audit?since=2024-05-02&until=2024-05-01", /until: must come after since/],
      ["/audit?before=abc", /before: &quot;abc&quot; is not an entry number/],
      ["/audit?before=5&after=2", /after: give either before or after, not both/],
      ["/audit?kind=release&kind=reveal", /kind: give it once/],
      ["/audit?kind=DROP%20TABLE", /kind: &quot;DROP TABLE&quot; is not a kind of entry/],
      ["/audit?limit=0", /limit: a number of entries from 1 to 500/],
      ["/audit?actr=alice", /actr: unknown parameter/],
    ];
    for (const [url, message] of cases) {
      const r = await get(url, { cookie });
      assert.equal(r.status, 400, url);
      const html = await r.text();
      assert.match(html, message, url);
      assert.match(html, /role="alert"/, url);
      assert.doesNotMatch(html, /at \S+ \(|\.ts:\d+|node:internal/, `${url} shows a stack`);
      // The form is there to fix the filter.
      assert.match(html, /<form class="filters audit-filters"/, url);
    }
    for (const url of ["/audit.csv?since=soon", "/audit.jsonl?before=10", "/api/audit?after=x"]) {
      const r = await get(url, { cookie });
      assert.equal(r.status, 400, url);
      const body = (await r.json()) as { error: string };
      assert.match(body.error, /^(since|before|after): /, url);
    }
  });

  it("downloads the filtered log as CSV and JSON lines, newest first, whole", async () => {
    const all = (await env.audit.list()).reverse();
    const csv = await get("/audit.csv?kind=release", { cookie });
    assert.equal(csv.status, 200);
    assert.match(csv.headers.get("content-type") ?? "", /^text\/csv/);
    assert.match(
      csv.headers.get("content-disposition") ?? "",
      /^attachment; filename="airlock-audit-\d{8}T\d{6}Z\.csv"$/,
    );
    const lines = (await csv.text()).trimEnd().split("\r\n");
    assert.equal(lines[0], "seq,time,actor,action,run,job,set,key,versions,detail");
    const releases = all.filter((r) => r.action === "release");
    assert.equal(lines.length - 1, releases.length);
    assert.equal(
      lines[1],
      `${releases[0]?.seq},${new Date(releases[0]?.at ?? 0).toISOString()},airlock,release,run-228,,functional-tests,,"{""AWS_SECRET_ACCESS_KEY"":1}",entry 228`,
    );

    const jsonl = await get("/audit.jsonl", { cookie });
    assert.match(jsonl.headers.get("content-type") ?? "", /^application\/x-ndjson/);
    const records = (await jsonl.text())
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as { seq: number; actor: string; action: string });
    assert.deepEqual(
      records.map((r) => r.seq),
      all.map((r) => r.seq),
    );
    // JSON lines keep text exactly as recorded.
    const approve = records.find((r) => r.action === "console-approve");
    assert.equal(approve?.actor, "<img src=x onerror=alert(1)>");
  });

  it("escapes outside text on the page and keeps a formula in the CSV inert", async () => {
    const html = await (await get("/audit?kind=console-approve", { cookie })).text();
    assert.ok(html.includes("&lt;img src=x onerror=alert(1)&gt;"));
    assert.ok(!html.includes("<img src=x"));
    const csv = await (await get("/audit.csv?kind=console-approve", { cookie })).text();
    const row = csv.split("\r\n")[1] ?? "";
    assert.ok(row.endsWith(`"'=HYPERLINK(""http://evil.example""),""quoted""\nsecond line"`), row);
  });

  it("a bearer token reads the JSON API with the same filters and cursors", async () => {
    const { token } = await env.sessions.createToken({
      name: "auditor",
      createdBy: "t",
      expiresAt: null,
    });
    const auth = { authorization: `Bearer ${token}` };
    const first = (await (await get("/api/audit?kind=reveal&limit=3", auth)).json()) as {
      items: { seq: number; action: string }[];
      olderBefore: number | null;
      newerAfter: number | null;
    };
    assert.equal(first.items.length, 3);
    assert.ok(first.items.every((i) => i.action === "reveal"));
    assert.equal(first.newerAfter, null);
    const next = (await (
      await get(`/api/audit?kind=reveal&limit=3&before=${first.olderBefore}`, auth)
    ).json()) as { items: { seq: number }[] };
    assert.ok((next.items[0]?.seq ?? Infinity) < (first.items.at(-1)?.seq ?? 0));
  });
});
