// The executor's modes and refusals: --no-sandbox, a missing or broken bwrap, mounts, bad input.
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { badMountTarget } from "../../../src/executors/local/bwrap-args.js";
import { checkSandbox, findBwrap, INSTALL_HINT } from "../../../src/executors/local/check.js";
import { buildEnv } from "../../../src/executors/local/env.js";
import { LocalExecutor } from "../../../src/executors/local/executor.js";
import { safeRelative } from "../../../src/executors/local/paths.js";
import { PATIENCE_MS } from "../../support/patience.js";
import { job, makeRepo, processesWith, request, tempDir } from "./helpers.js";

const t = tempDir();
let checkout: { kind: "commit"; repoDir: string; sha: string };

before(() => {
  const { repo, sha } = makeRepo(t.dir, { "a.txt": "committed\n" });
  checkout = { kind: "commit", repoDir: repo, sha };
});
after(() => t.cleanup());

describe("--no-sandbox", () => {
  const executor = new LocalExecutor({ sandbox: false });
  after(() => executor.close());

  it("runs a public job in its workspace with a clean environment", async () => {
    const planted = "planted-host-value";
    process.env.AIRLOCK_TEST_HOST_SECRET = planted;
    try {
      const c = request(checkout, job("cat a.txt; env; echo err >&2"), { env: { KIND: "unit" } });
      const r = await executor.run(c.req);
      assert.equal(r.status, "passed", c.text());
      assert.match(c.text(), /^committed\n/);
      assert.match(c.text(), /^KIND=unit$/m);
      assert.match(c.text(), /^CI=true$/m);
      assert.match(c.text(), /^err$/m);
      assert.ok(!c.text().includes(planted));
      assert.ok(!/^AIRLOCK_SECRETS_DIR=/m.test(c.text()));
    } finally {
      delete process.env.AIRLOCK_TEST_HOST_SECRET;
    }
  });

  it("refuses restricted jobs and any secret, naming the reason", async () => {
    const restricted = request(checkout, job("true", { secrets: ["functional-tests"] }));
    const r1 = await executor.run(restricted.req);
    assert.equal(r1.status, "error");
    assert.match(r1.error ?? "", /restricted .* only in the bubblewrap sandbox/);
    const smuggled = request(checkout, job("true"), { secretEnv: { TOKEN: "x" } });
    assert.equal((await executor.run(smuggled.req)).status, "error");
  });

  it("kills the job's process group on cancel", async () => {
    const tok = String(Date.now() % 1e9);
    const c = request(checkout, job(`sleep 1000.${tok} & echo ready; sleep 1000.${tok}1`));
    const run = executor.run(c.req);
    try {
      await c.waitFor("ready");
      const until = Date.now() + PATIENCE_MS;
      while (processesWith(`1000.${tok}`).length < 2 && Date.now() < until) await delay(20);
    } finally {
      c.abort();
    }
    assert.equal((await run).status, "cancelled");
    await delay(50);
    assert.deepEqual(processesWith(`1000.${tok}`), []);
  });
});

describe("when bubblewrap is missing or broken", () => {
  it("says how to install it", async () => {
    const c = await checkSandbox(path.join(t.dir, "no-such-bwrap"));
    assert.equal(c.ok, false);
    assert.match(c.message, /not installed/);
    assert.ok(c.message.includes(INSTALL_HINT));
  });

  it("detects a bwrap that cannot make a sandbox, and jobs refuse to run", async () => {
    const fake = path.join(t.dir, "fake-bwrap");
    writeFileSync(
      fake,
      '#!/bin/sh\n[ "$1" = --version ] && { echo "bubblewrap 0.0.0"; exit 0; }\necho "bwrap: No permissions to create new namespace" >&2\nexit 1\n',
    );
    chmodSync(fake, 0o755);
    const c = await checkSandbox(fake);
    assert.equal(c.ok, false);
    assert.match(c.message, /cannot make a sandbox here \(bwrap: No permissions/);
    const ex = new LocalExecutor({ bwrapPath: fake });
    try {
      const restricted = await ex.run(request(checkout, job("true", { secrets: ["s"] })).req);
      assert.equal(restricted.status, "error");
      assert.ok(restricted.error?.includes(INSTALL_HINT));
      assert.ok(!restricted.error?.includes("--no-sandbox"));
      const pub = await ex.run(request(checkout, job("true")).req);
      assert.equal(pub.status, "error");
      assert.match(pub.error ?? "", /--no-sandbox/);
    } finally {
      await ex.close();
    }
  });

  it("finds the real bwrap and reports it working", async () => {
    assert.ok(findBwrap());
    const c = await checkSandbox();
    assert.equal(c.ok, true, c.message);
    assert.match(c.version ?? "", /^bubblewrap \d/);
  });
});

describe("mounts and input checks", () => {
  it("mounts a directory read-only where asked", async () => {
    const suite = path.join(t.dir, "suite");
    mkdirSync(suite);
    writeFileSync(path.join(suite, "test.sh"), "suite file\n");
    const ex = new LocalExecutor({ dataDir: path.join(t.dir, "data") });
    try {
      const c = request(
        checkout,
        job("cat /suite/test.sh; (echo x > /suite/new) 2>/dev/null || echo read-only", {
          secrets: ["s"],
        }),
        { mounts: [{ source: suite, target: "/suite" }] },
      );
      const r = await ex.run(c.req);
      assert.equal(r.status, "passed", c.text());
      assert.equal(c.text(), "suite file\nread-only\n");
      for (const target of ["/", "/usr/x", "/etc", "/workspace", "/run", "/home", "suite"]) {
        const bad = request(checkout, job("true"), { mounts: [{ source: suite, target }] });
        const rb = await ex.run(bad.req);
        assert.equal(rb.status, "error", target);
        assert.match(rb.error ?? "", /mount target/);
      }
    } finally {
      await ex.close();
    }
  });

  it("classifies mount targets", () => {
    assert.equal(badMountTarget("/suite"), null);
    assert.equal(badMountTarget("/opt/suite"), null);
    assert.equal(badMountTarget("/tmp/suite"), null);
    assert.match(badMountTarget("/tmp") ?? "", /inside \/tmp/);
    assert.match(badMountTarget("/run") ?? "", /would cover \/run\/airlock/);
    assert.match(badMountTarget("/a/../etc") ?? "", /normalised/);
  });

  it("rejects unusable environment names without echoing values", () => {
    assert.throws(() => buildEnv({ "BAD-NAME": "v" }), /"BAD-NAME" is not valid/);
    assert.throws(
      () => buildEnv({ TOKEN: "top\0secret" }),
      (e: Error) => /TOKEN/.test(e.message) && !e.message.includes("secret"),
    );
  });

  it("keeps relative paths inside their base", () => {
    assert.equal(safeRelative(""), "");
    assert.equal(safeRelative("a/b/"), "a/b");
    assert.equal(safeRelative("a/../b"), "b");
    assert.equal(safeRelative("../x"), null);
    assert.equal(safeRelative("a/../../x"), null);
    assert.equal(safeRelative("/etc"), null);
  });
});
