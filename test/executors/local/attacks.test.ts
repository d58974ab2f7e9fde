// Attacks on the bubblewrap sandbox with real bwrap, real git repositories and real processes.
import assert from "node:assert/strict";
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { LocalExecutor } from "../../../src/executors/local/executor.js";
import { PATIENCE_MS } from "../../support/patience.js";
import { job, makeRepo, processesWith, request, tempDir, token } from "./helpers.js";

const t = tempDir();
const dataDir = path.join(t.dir, "data");
const DATA_KEY = `master-key-${token()}`;
let repo: string;
let sha: string;
let executor: LocalExecutor;

before(() => {
  mkdirSync(dataDir, { mode: 0o700 });
  writeFileSync(path.join(dataDir, "master.key"), DATA_KEY);
  ({ repo, sha } = makeRepo(t.dir, { "README.md": "hello\n", "sub/x.txt": "x\n" }));
  executor = new LocalExecutor({ dataDir });
});
after(async () => {
  await executor.close();
  t.cleanup();
});

const commit = () => ({ kind: "commit" as const, repoDir: repo, sha });

async function jobsLeft(ex: LocalExecutor): Promise<string[]> {
  return readdirSync(path.join(await ex.workspaceRoot(), "jobs"));
}

/** Every regular file under `dir` whose content contains `needle`. */
function filesContaining(dir: string, needle: string): string[] {
  const found: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    const p = path.join(e.parentPath ?? e.path, e.name);
    if (e.isFile() && readFileSync(p).includes(needle)) found.push(p);
  }
  return found;
}

describe("the sandbox keeps private host files out of reach", () => {
  it("cannot read Airlock's data directory, /root or /home", async () => {
    const c = request(
      commit(),
      job(
        [
          'cat "$DATA/master.key" || true',
          'test -e "$DATA" && echo "data:visible" || echo "data:hidden"',
          "test -e /root && echo root:visible || echo root:hidden",
          'echo "home:$(ls -A /home)"',
          'echo "ssl-private:$(ls -A /etc/ssl/private 2>/dev/null | wc -l)"',
          "echo etc:$(ls /etc | tr '\\n' ' ')",
        ].join("\n"),
      ),
      { env: { DATA: dataDir } },
    );
    const r = await executor.run(c.req);
    assert.equal(r.status, "passed", c.text());
    assert.ok(!c.text().includes(DATA_KEY), "the data directory's key leaked");
    assert.match(c.text(), /data:hidden/);
    assert.match(c.text(), /root:hidden/);
    assert.match(c.text(), /home:airlock\n/);
    // Host TLS keys (root-only on the host) stay out, although /etc/ssl's certificates are in.
    assert.match(c.text(), /ssl-private:0\n/);
    for (const f of ["shadow", "gshadow", "npmrc", "gitconfig", "machine-id", "sudoers"]) {
      assert.ok(!new RegExp(`\\b${f}\\b`).test(c.text().split("etc:")[1] ?? ""), `/etc/${f}`);
    }
  });

  it("masks the data directory even inside a directory bound read-only", async () => {
    const tools = path.join(t.dir, "tools");
    const hiddenData = path.join(tools, "airlock-data");
    mkdirSync(hiddenData, { recursive: true });
    writeFileSync(path.join(tools, "tool.txt"), "a tool\n");
    writeFileSync(path.join(hiddenData, "master.key"), DATA_KEY);
    const ex = new LocalExecutor({ dataDir: hiddenData, readOnlyPaths: [tools] });
    try {
      const c = request(
        commit(),
        job(
          `cat "${tools}/tool.txt"; ls -A "${hiddenData}"; cat "${hiddenData}/master.key" || true`,
        ),
      );
      const r = await ex.run(c.req);
      assert.equal(r.status, "passed", c.text());
      assert.match(c.text(), /a tool/);
      assert.ok(!c.text().includes(DATA_KEY));
      assert.ok(!c.text().includes("master.key\n"), "the data directory's listing leaked");
    } finally {
      await ex.close();
    }
  });

  it("refuses a mount that would expose the data directory", async () => {
    const c = request(commit(), job("true"), {
      mounts: [{ source: t.dir, target: "/suite" }],
    });
    const r = await executor.run(c.req);
    assert.equal(r.status, "error");
    assert.match(r.error ?? "", /would expose/);
  });

  it("does not copy the data directory into a --dirty workspace", async () => {
    const inRepo = path.join(repo, ".airlock");
    mkdirSync(inRepo, { recursive: true });
    writeFileSync(path.join(inRepo, "master.key"), DATA_KEY);
    const ex = new LocalExecutor({ dataDir: inRepo });
    try {
      const c = request(
        { kind: "dirty", dir: repo },
        job(`ls -A; cat .airlock/master.key || true; cat "${inRepo}/master.key" || true`),
      );
      const r = await ex.run(c.req);
      assert.equal(r.status, "passed", c.text());
      assert.ok(!c.text().includes(DATA_KEY));
      assert.ok(!/^\.airlock$/m.test(c.text()));
      assert.ok(!/^\.git$/m.test(c.text()), ".git was copied");
    } finally {
      await ex.close();
    }
  });
});

describe("jobs are isolated from each other", () => {
  it("cannot see another running job's workspace", async () => {
    const marker = `marker-${token()}`;
    const a = request(
      commit(),
      job(
        `echo ${marker} > mine.txt; echo ready; until [ -e go ]; do sleep 0.02; done; echo a-done`,
        { id: "a" },
      ),
    );
    // Job b gets the marker through its environment, so that its own script does not contain it.
    const runA = executor.run(a.req);
    setTimeout(() => a.abort(), 10_000).unref(); // never hang the suite if an assertion fails
    await a.waitFor("ready");
    const [aDir] = (await jobsLeft(executor)).filter((d) => d.startsWith("a-"));
    assert.ok(aDir, "job a's workspace exists while it runs");
    const aHost = path.join(await executor.workspaceRoot(), "jobs", aDir);
    assert.ok(readFileSync(path.join(aHost, "mine.txt"), "utf8").includes(marker));

    const b = request(
      commit(),
      job(
        [
          `cat "${aHost}/mine.txt" || true`,
          "cat /proc/*/root/workspace/mine.txt 2>/dev/null || true",
          'grep -rs "$MARKER" /tmp /home /run /workspace || true',
          'echo "b-sees:$(ls -A /workspace | tr "\\n" " ")"',
        ].join("\n"),
        { id: "b" },
      ),
      { env: { MARKER: marker } },
    );
    const rb = await executor.run(b.req);
    writeFileSync(path.join(aHost, "go"), "");
    const ra = await runA;
    assert.equal(rb.status, "passed", b.text());
    assert.equal(ra.status, "passed", a.text());
    assert.ok(!b.text().includes(marker), `job b saw job a's file:\n${b.text()}`);
    assert.match(b.text(), /b-sees:README\.md sub \n/);
    assert.deepEqual(await jobsLeft(executor), []);
  });
});

describe("network", () => {
  it("is unreachable unless the job asks for it", async () => {
    const server = createServer((s) => s.end("hello"));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as { port: number }).port;
    const script =
      'out=$( (exec 3<>"/dev/tcp/127.0.0.1/$PORT" && head -c 5 <&3) 2>&1 ) || true; echo "result:$out"';
    try {
      const off = request(commit(), job(script), { env: { PORT: String(port) } });
      const on = request(commit(), job(script, { network: true }), {
        env: { PORT: String(port) },
      });
      const [rOff, rOn] = await Promise.all([executor.run(off.req), executor.run(on.req)]);
      assert.equal(rOff.status, "passed", off.text());
      assert.equal(rOn.status, "passed", on.text());
      assert.doesNotMatch(off.text(), /result:hello/);
      assert.match(on.text(), /result:hello/);
    } finally {
      server.close();
    }
  });
});

describe("no process outlives its job", () => {
  const bgJob = (tok: string) =>
    [
      `sleep 1000.${tok} </dev/null >/dev/null 2>&1 &`,
      `(trap '' TERM HUP INT; exec -a stubborn-${tok} sleep 1000) </dev/null >/dev/null 2>&1 &`,
      "echo ready",
    ].join("\n");

  it("after a timeout", async () => {
    const tok = String(Date.now() % 1e9);
    const c = request(commit(), job(`${bgJob(tok)}\nsleep 1000.${tok}9`, { timeoutMs: 1500 }));
    const r = await executor.run(c.req);
    assert.equal(r.status, "timed_out", c.text());
    assert.match(c.text(), /timed out after 2s/);
    assert.deepEqual(processesWith(`1000.${tok}`), []);
    assert.deepEqual(processesWith(`stubborn-${tok}`), []);
    assert.deepEqual(await jobsLeft(executor), []);
  });

  it("after a cancel", async () => {
    const tok = String((Date.now() + 7) % 1e9);
    const c = request(commit(), job(`${bgJob(tok)}\nsleep 1000.${tok}9`));
    const run = executor.run(c.req);
    try {
      await c.waitFor("ready");
      // `sleep &` has forked but may not have exec'd yet: wait until it shows up.
      const until = Date.now() + PATIENCE_MS;
      while (processesWith(`1000.${tok}`).length < 2 && Date.now() < until) await delay(20);
      assert.equal(processesWith(`1000.${tok}`).length, 2, "the background processes started");
    } finally {
      c.abort();
    }
    const r = await run;
    assert.equal(r.status, "cancelled");
    assert.deepEqual(processesWith(`1000.${tok}`), []);
    assert.deepEqual(processesWith(`stubborn-${tok}`), []);
    assert.deepEqual(await jobsLeft(executor), []);
  });

  it("after the job's main process exits normally", async () => {
    const tok = String((Date.now() + 13) % 1e9);
    const c = request(commit(), job(bgJob(tok)));
    const r = await executor.run(c.req);
    assert.equal(r.status, "passed", c.text());
    assert.deepEqual(processesWith(`1000.${tok}`), []);
    assert.deepEqual(processesWith(`stubborn-${tok}`), []);
  });
});

describe("environment and secrets", () => {
  it("gives a clean environment: the allowlist, the job's env and nothing of the host", async () => {
    const planted = `host-secret-${token()}`;
    process.env.AIRLOCK_TEST_HOST_SECRET = planted;
    try {
      const c = request(commit(), job("env | sort"), {
        env: { provider: "aws", AIRLOCK_JOB: "unit" },
      });
      const r = await executor.run(c.req);
      assert.equal(r.status, "passed", c.text());
      const env = Object.fromEntries(
        c
          .text()
          .trim()
          .split("\n")
          .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
      );
      assert.ok(!c.text().includes(planted));
      assert.equal(env.HOME, "/home/airlock");
      assert.equal(env.PATH, "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
      assert.equal(env.CI, "true");
      assert.equal(env.provider, "aws");
      assert.equal(env.AIRLOCK_JOB, "unit");
      assert.equal(env.AIRLOCK_WORKSPACE, "/workspace");
      const allowed = new Set([
        "PATH",
        "HOME",
        "LANG",
        "TERM",
        "CI",
        "PWD",
        "SHLVL",
        "_",
        "OLDPWD",
        "provider",
        "AIRLOCK_JOB",
        "AIRLOCK_WORKSPACE",
        "AIRLOCK_SECRETS_DIR",
      ]);
      assert.deepEqual(
        Object.keys(env).filter((k) => !allowed.has(k)),
        [],
      );
    } finally {
      delete process.env.AIRLOCK_TEST_HOST_SECRET;
    }
  });

  it("never puts a secret in any process's argv, and leaves no secret on disk", async () => {
    const envSecret = `env-secret-${token()}`;
    const fileSecret = `file-secret-${token()}`;
    const c = request(
      commit(),
      job(
        [
          'test "$API_TOKEN" = "$EXPECT_ENV" && echo env-ok',
          'test "$(cat "$AIRLOCK_SECRETS_DIR/cloud.json")" = "$EXPECT_FILE" && echo file-ok',
          '(echo x > "$AIRLOCK_SECRETS_DIR/new") 2>/dev/null || echo secrets-read-only',
          "echo ready",
          "until [ -e go ]; do sleep 0.02; done",
        ].join("\n"),
        { secrets: ["functional-tests"] },
      ),
      {
        // The job compares against hashes of nothing: expectations come through the environment.
        env: {},
        secretEnv: { API_TOKEN: envSecret, EXPECT_ENV: envSecret, EXPECT_FILE: fileSecret },
        secretFiles: [{ name: "cloud.json", value: fileSecret }],
      },
    );
    const run = executor.run(c.req);
    const root = await executor.workspaceRoot();
    try {
      await c.waitFor("ready");
      assert.deepEqual(processesWith(envSecret), [], "an env secret is in some argv");
      assert.deepEqual(processesWith(fileSecret), [], "a file secret is in some argv");
      assert.deepEqual(filesContaining(root, fileSecret), [], "a file secret is on disk");
      const [dir] = await jobsLeft(executor);
      writeFileSync(path.join(root, "jobs", dir!, "go"), "");
    } finally {
      setTimeout(() => c.abort(), 5000).unref();
    }
    const r = await run;
    assert.equal(r.status, "passed", c.text());
    assert.match(c.text(), /env-ok\nfile-ok\nsecrets-read-only\n/);
    assert.deepEqual(filesContaining(root, fileSecret), []);
    assert.deepEqual(await jobsLeft(executor), []);
  });
});

describe("checkout, output and reports", () => {
  it("runs the commit, not the dirty working tree; --dirty runs the working tree", async () => {
    const d = tempDir();
    try {
      const { repo: r2, sha: s2 } = makeRepo(d.dir, { "a.txt": "committed\n" });
      writeFileSync(path.join(r2, "a.txt"), "dirty\n");
      writeFileSync(path.join(r2, "untracked.txt"), "new\n");
      const script = "cat a.txt; cat untracked.txt 2>/dev/null || echo no-untracked; ls -A";
      const c1 = request({ kind: "commit", repoDir: r2, sha: s2 }, job(script));
      const c2 = request({ kind: "dirty", dir: r2 }, job(script));
      const [r1, rd] = [await executor.run(c1.req), await executor.run(c2.req)];
      assert.equal(r1.status, "passed", c1.text());
      assert.equal(rd.status, "passed", c2.text());
      assert.equal(c1.text(), "committed\nno-untracked\na.txt\n");
      assert.equal(c2.text(), "dirty\nnew\na.txt\nuntracked.txt\n");
    } finally {
      d.cleanup();
    }
  });

  it("reports failures with the exit code and keeps stdout and stderr in order", async () => {
    const c = request(commit(), job("echo one; echo two >&2; echo three; exit 7"));
    const r = await executor.run(c.req);
    assert.equal(r.status, "failed");
    assert.equal(r.exitCode, 7);
    assert.equal(c.text(), "one\ntwo\nthree\n");
  });

  it("starts in the workdir, reads reports there and ignores links", async () => {
    const c = request(
      commit(),
      job(
        [
          "pwd",
          "mkdir -p reports",
          "echo '<testsuite name=\"ok\"/>' > reports/a.xml",
          "ln -s /etc/passwd reports/evil.xml",
          "ln -s a.xml reports/alias.xml",
        ].join("\n"),
        { reports: ["reports/*.xml", "../escape/*.xml"] },
      ),
      { workdir: "sub" },
    );
    const r = await executor.run(c.req);
    assert.equal(r.status, "passed", c.text());
    assert.match(c.text(), /^\/workspace\/sub\n/);
    // Links are never followed: neither out of the workspace nor within it.
    assert.deepEqual(
      r.reports.map((x) => x.path),
      ["reports/a.xml"],
    );
    assert.equal(r.reports[0]!.content, '<testsuite name="ok"/>\n');
    assert.ok(!r.reports.some((x) => x.content.includes("root:")));
    assert.match(c.text(), /report skipped: \.\.\/escape\/\*\.xml/);
  });

  it("refuses a workdir outside the checkout", async () => {
    const c = request(commit(), job("true"), { workdir: "../.." });
    const r = await executor.run(c.req);
    assert.equal(r.status, "error");
    assert.match(r.error ?? "", /must stay inside the checkout/);
  });

  it("keeps the per-run root private and removes it on close", async () => {
    const ex = new LocalExecutor({ dataDir });
    const c = request(commit(), job("true"));
    assert.equal((await ex.run(c.req)).status, "passed");
    const root = await ex.workspaceRoot();
    assert.equal(statSync(root).mode & 0o777, 0o700);
    await ex.close();
    assert.throws(() => statSync(root), /ENOENT/);
  });
});
