// Retention as users set it and see it: the serve config's block with its defaults and limits, the
// logs of runs no longer stored, and `airlock prune` on a data directory, as a user runs it.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { DEFAULT_RETENTION, pruneLogs, resolveRetention } from "../../src/gateway/retention.js";
import { loadServeConfig, ServeConfigError } from "../../src/gateway/serve-config.js";
import { openStore } from "../../src/store/index.js";
import { runCli, show } from "../support/cli.js";

const DAY = 24 * 3600_000;
const root = mkdtempSync(path.join(os.tmpdir(), "airlock-retention-"));
after(() => rmSync(root, { recursive: true, force: true }));

describe("retention settings", () => {
  it("has defaults, takes durations and forever, and refuses what would lose track", () => {
    assert.deepEqual(resolveRetention(), DEFAULT_RETENTION);
    assert.equal(DEFAULT_RETENTION.deliveries, 30 * DAY);
    const r = resolveRetention({ deliveries: "14d", runs: "forever", interval: "10m" });
    assert.equal(r.deliveries, 14 * DAY);
    assert.equal(r.runs, null);
    assert.equal(r.intervalMs, 600_000);
    assert.throws(
      () => resolveRetention({ deliveries: "2d" }),
      /retention.deliveries must be at least 7d \(2d is shorter\)/,
    );
    assert.throws(
      () => resolveRetention({ outbox: "a month" }),
      /retention.outbox must be a duration/,
    );
    assert.throws(
      () => resolveRetention({ interval: "forever" }),
      /retention.interval must be a duration/,
    );
  });

  it("comes from the serve config's retention block, with the file named on a mistake", () => {
    const file = path.join(root, "serve.yml");
    writeFileSync(file, "retention:\n  check_runs: 30d\n");
    const c = loadServeConfig({ file, env: {}, dataDir: path.join(root, "data") });
    assert.equal(c.retention.checkRuns, 30 * DAY);
    assert.equal(c.retention.outbox, DEFAULT_RETENTION.outbox);
    writeFileSync(file, "retention:\n  deliveries: 1h\n");
    assert.throws(
      () => loadServeConfig({ file, env: {}, dataDir: path.join(root, "data") }),
      (e: Error) =>
        e instanceof ServeConfigError && e.message.includes(file) && /at least 7d/.test(e.message),
    );
  });
});

describe("pruning", () => {
  it("removes the logs of runs no longer stored, not a stored run's nor a fresh one's", async () => {
    const dataDir = path.join(root, "logs-case");
    const store = await openStore({ dataDir });
    try {
      await store.runs.create(
        { id: "kept", source: "local", repo: "o/r", ref: null, sha: "1" },
        [],
      );
      const now = Date.now();
      for (const [run, age] of [
        ["kept", 2 * DAY],
        ["gone", 2 * DAY],
        ["fresh", 0],
      ] as const) {
        const dir = path.join(dataDir, "logs", run);
        mkdirSync(dir, { recursive: true });
        writeFileSync(path.join(dir, "unit.log"), "line\n");
        const at = (now - age) / 1000;
        utimesSync(dir, at, at);
      }
      assert.equal(await pruneLogs(store, dataDir, now), 1);
      const left = ["kept", "gone", "fresh"].filter((r) =>
        existsSync(path.join(dataDir, "logs", r)),
      );
      assert.deepEqual(left, ["kept", "fresh"]);
    } finally {
      await store.close();
    }
  });

  it("airlock prune removes what is past the retention and says what it removed", async () => {
    const dataDir = path.join(root, "cli-case");
    const store = await openStore({ dataDir });
    const old = Date.now() - 40 * DAY;
    try {
      for (const id of ["d1", "d2"]) {
        await store.events.insert(
          { deliveryId: id, name: "ping", action: null, payload: "{}" },
          old,
        );
        const e = await store.events.claimNext(old);
        await store.events.complete(e!.seq, [], old);
      }
      await store.events.insert({ deliveryId: "d3", name: "ping", action: null, payload: "{}" });
    } finally {
      await store.close();
    }
    const env = { ...process.env, AIRLOCK_HOME: "" };
    const r = await runCli(["prune", "--data-dir", dataDir], { cwd: root, env });
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /deliveries\s+2\s+processed, failed or rejected more than 30d ago/);
    assert.match(r.stdout, /runs\s+0\s+ended more than 90d ago/);
    assert.match(r.stdout, /Kept: work still in flight, and the audit log/);
    const json = await runCli(["prune", "--data-dir", dataDir, "--json"], { cwd: root, env });
    assert.equal(JSON.parse(json.stdout).deliveries, 0, "nothing left to remove");

    const file = path.join(root, "prune.yml");
    writeFileSync(file, "retention:\n  deliveries: 3d\n");
    const bad = await runCli(["prune", "--data-dir", dataDir, "-c", file], { cwd: root, env });
    assert.equal(bad.code, 2, show(bad));
    assert.match(bad.stderr, /retention.deliveries must be at least 7d/);
    assert.doesNotMatch(bad.stderr, /\n\s+at /, "no stack trace");
    const s = await openStore({ dataDir });
    try {
      assert.deepEqual(
        (await s.events.list()).map((e) => e.deliveryId),
        ["d3"],
      );
    } finally {
      await s.close();
    }
  });
});
