// Artifacts on the console over real HTTP: listed on the run page, served only to signed-in
// members, always as a download (a kept HTML page never runs on the console's origin), text as
// the redactor left it, and only files a job's manifest lists (no path reaches the disk).
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { keepArtifacts } from "../../src/artifacts/keep.js";
import { ArtifactStore } from "../../src/artifacts/store.js";
import { createRedactor } from "../../src/redact/redactor.js";
import { type Console, type Env, makeEnv, seedRun, signInByLink, startConsole } from "./helpers.js";

const SECRET = "sk_live_4b9d2e7f10a3c6e8";
const PAGE = "<html><script>fetch('/api/runs').then(r=>r.text()).then(steal)</script></html>\n";

describe("console: artifacts", () => {
  let env: Env;
  let c: Console;
  let cookie: string;
  let work: string;
  before(async () => {
    env = await makeEnv();
    await seedRun(env);
    work = mkdtempSync(path.join(tmpdir(), "airlock-art-web-"));
    mkdirSync(path.join(work, "coverage"));
    writeFileSync(path.join(work, "coverage", "index.html"), PAGE);
    writeFileSync(path.join(work, "coverage", `a "quoted"; ünï.txt`), "odd name\n");
    writeFileSync(path.join(work, "tool.bin"), Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2]));
    mkdirSync(path.join(work, "out"));
    writeFileSync(path.join(work, "out", "env.txt"), `token=${SECRET}\n`);
    const store = new ArtifactStore(path.join(env.dir, "artifacts"));
    const say = () => {};
    await keepArtifacts(store, {
      runId: "run-1",
      jobId: "build",
      credentials: [],
      root: work,
      patterns: ["coverage/", "tool.bin"],
      redactor: createRedactor({ secrets: [] }),
      say,
    });
    await keepArtifacts(store, {
      runId: "run-1",
      jobId: "aws-infra",
      credentials: ["functional-tests"],
      root: work,
      patterns: ["out/"],
      redactor: createRedactor({ secrets: [{ name: "API_KEY", value: SECRET }] }),
      say,
    });
    c = await startConsole(env, { console: { artifacts: store } });
    cookie = await signInByLink(c, env);
  });
  after(async () => {
    await c.close();
    await env.cleanup();
    rmSync(work, { recursive: true, force: true });
  });

  const get = (p: string, headers: Record<string, string> = {}) =>
    fetch(`${c.url}${p}`, { headers, redirect: "manual" });

  it("lists what each job kept on the run page, linked for download", async () => {
    const html = await (await get("/runs/run-1", { cookie })).text();
    assert.match(html, /<h2 id="artifacts">Artifacts<\/h2>/);
    assert.match(
      html,
      /<a href="\/runs\/run-1\/jobs\/build\/artifacts\/coverage\/index\.html" download>coverage\/index\.html<\/a>/,
    );
    assert.match(html, /href="\/runs\/run-1\/jobs\/aws-infra\/artifacts\/out\/env\.txt"/);
    assert.match(html, /a &quot;quoted&quot;/);
    assert.doesNotMatch(html, /<script>fetch/);
    const api = (await (await get("/api/runs/run-1/artifacts", { cookie })).json()) as {
      artifacts: { job: string; files: { path: string }[] }[];
    };
    assert.deepEqual(
      api.artifacts.map((a) => [a.job, a.files.map((f) => f.path)]),
      [
        ["aws-infra", ["out/env.txt"]],
        ["build", [`coverage/a "quoted"; ünï.txt`, "coverage/index.html", "tool.bin"]],
      ],
    );
  });

  it("serves a kept page as a download, never as a page of the console", async () => {
    const r = await get("/runs/run-1/jobs/build/artifacts/coverage/index.html", { cookie });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("content-type"), "text/plain; charset=utf-8");
    assert.match(r.headers.get("content-disposition") ?? "", /^attachment; filename="index\.html"/);
    assert.equal(r.headers.get("x-content-type-options"), "nosniff");
    assert.match(r.headers.get("content-security-policy") ?? "", /default-src 'none'/);
    assert.equal(await r.text(), PAGE);
    const bin = await get("/runs/run-1/jobs/build/artifacts/tool.bin", { cookie });
    assert.equal(bin.headers.get("content-type"), "application/octet-stream");
    assert.deepEqual(
      [...new Uint8Array(await bin.arrayBuffer())],
      [0x7f, 0x45, 0x4c, 0x46, 0, 1, 2],
    );
    // A name with quotes, a ";" and non-ASCII letters cannot break the header.
    const odd = await get(
      `/runs/run-1/jobs/build/artifacts/coverage/${encodeURIComponent(`a "quoted"; ünï.txt`)}`,
      { cookie },
    );
    assert.equal(odd.status, 200);
    assert.equal(
      odd.headers.get("content-disposition"),
      `attachment; filename="a__quoted____n_.txt"; filename*=UTF-8''a%20%22quoted%22%3B%20%C3%BCn%C3%AF.txt`,
    );
  });

  it("a restricted job's text is served as the redactor left it, and only to signed-in members", async () => {
    const r = await get("/runs/run-1/jobs/aws-infra/artifacts/out/env.txt", { cookie });
    assert.equal(await r.text(), "token=[redacted:API_KEY]\n");
    for (const p of [
      "/runs/run-1/jobs/aws-infra/artifacts/out/env.txt",
      "/runs/run-1/jobs/build/artifacts/tool.bin",
    ]) {
      const anon = await get(p);
      assert.equal(anon.status, 303, p);
      assert.match(anon.headers.get("location") ?? "", /^\/login\?next=/);
    }
    assert.equal((await get("/api/runs/run-1/artifacts")).status, 401);
  });

  it("opens only the files a manifest lists: no path climbs out of the store", async () => {
    for (const p of [
      "/runs/run-1/jobs/build/artifacts/..%2Fmanifest.json",
      "/runs/run-1/jobs/build/artifacts/..%2F..%2F..%2Fairlock.db",
      "/runs/run-1/jobs/build/artifacts/%2e%2e/%2e%2e/%2e%2e/master.key",
      "/runs/run-1/jobs/build/artifacts/coverage",
      "/runs/run-1/jobs/build/artifacts/",
      "/runs/run-1/jobs/nope/artifacts/tool.bin",
      "/runs/run-1/jobs/live-job/artifacts/tool.bin",
      "/runs/..%2Frun-1/jobs/build/artifacts/tool.bin",
    ]) {
      const r = await get(p, { cookie });
      assert.equal(r.status, 404, p);
      assert.doesNotMatch(await r.text(), /lockfileVersion|SQLite|"files"/);
    }
  });
});
