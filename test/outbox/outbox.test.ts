import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, afterEach, before, beforeEach, test } from "node:test";
import SQLite from "better-sqlite3";
import { Kysely, Migrator, SqliteDialect } from "kysely";
import type { CheckRunState } from "../../src/forge/types.js";
import { Outbox, statusFromCheck } from "../../src/gateway/outbox/index.js";
import { backoff } from "../../src/gateway/outbox/retry.js";
import { KyselyStore } from "../../src/store/kysely/store.js";
import * as m005 from "../../src/store/migrations/005_outbox.js";
import * as m009 from "../../src/store/migrations/009_check_run_status.js";
import { type GitHubDouble, startGitHubDouble } from "../doubles/github.js";
import { failing, watchUnhandled, withPart } from "../support/faults.js";
import { PATIENCE_MS } from "../support/patience.js";
import { clientFor, openTestDb, removeDir, sha, type TestDb } from "./support.js";

let gh: GitHubDouble;
let tdb: TestDb;
const FULL = "acme/app";
const HEAD = sha("e");

before(async () => {
  gh = await startGitHubDouble();
  gh.addInstallation({ id: 1, account: "acme", repos: [FULL] });
});
after(async () => {
  gh.assertNoViolations();
  await gh.close();
});
beforeEach(async () => {
  tdb = await openTestDb();
});
afterEach(async () => {
  await tdb.close();
  removeDir(tdb.dir);
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let counter = 0;
/** A check name unique to the test, so tests sharing the double do not see each other's runs. */
const uniqueName = () => `airlock/job-${++counter}-${Date.now()}`;

function makeOutbox(opts: { fetch?: typeof fetch; baseDelayMs?: number } = {}) {
  const { client } = clientFor(gh, 1, { fetch: opts.fetch });
  const outbox = new Outbox(tdb.store, {
    forgeFor: () => client,
    baseDelayMs: opts.baseDelayMs ?? 20,
    random: () => 0.5,
  });
  // Buys the installation token now, so that a fault set up next hits the request under test.
  const warm = () => client.permission({ owner: "acme", repo: "app" }, "warm-up");
  const { outbox: store, checkRuns } = tdb.store;
  return { outbox, store, checkRuns, client, warm };
}

/** Forwards to the double, but loses the answer of the first request `matches` selects. */
function losingFetch(matches: (method: string, url: string) => boolean, mode: "throw" | "hang") {
  let armed = true;
  const sent: { method: string; url: string; at: number }[] = [];
  const f = (async (input: string | URL | Request, init?: RequestInit) => {
    const method = init?.method ?? "GET";
    const url = String(input);
    sent.push({ method, url, at: Date.now() });
    const res = await fetch(input, init);
    if (armed && matches(method, url)) {
      armed = false;
      await res.text();
      if (mode === "hang") await new Promise(() => {});
      throw new TypeError("fetch failed: socket hang up");
    }
    return res;
  }) as typeof fetch;
  return { fetch: f, sent };
}

const isCreate = (m: string, u: string) => m === "POST" && u.endsWith("/check-runs");

/** Delivers until nothing is waiting, sleeping through backoff; fails after `limitMs`. */
async function drain(outbox: Outbox, limitMs = PATIENCE_MS) {
  const until = Date.now() + limitMs;
  while ((await outbox.db.outbox.depth()) > 0) {
    assert.ok(Date.now() < until, "the outbox did not drain in time");
    await outbox.deliverDue();
    await sleep(10);
  }
}

/** As if the process died while delivering item `seq`: the next start takes it up again. */
async function diedMidDelivery(seq: number) {
  await tdb.store.db
    .updateTable("outbox")
    .set({ state: "delivering" })
    .where("seq", "=", seq)
    .execute();
  assert.equal(await tdb.store.outbox.resetInterrupted(), 1);
}

/** Another process on the same database (fresh memory) delivers what was left, then stops. */
async function restart() {
  await tdb.close();
  tdb = await openTestDb(tdb.dir);
  const next = makeOutbox();
  await next.outbox.start();
  const until = Date.now() + PATIENCE_MS;
  while ((await next.store.depth()) > 0 && Date.now() < until) await sleep(20);
  await next.outbox.stop();
  return next;
}

const state = (name: string, s: Partial<CheckRunState> = {}): CheckRunState => ({
  name,
  head_sha: HEAD,
  status: "queued",
  ...s,
});
const done = (name: string, conclusion: "success" | "failure" = "success") =>
  state(name, {
    status: "completed",
    conclusion,
    output: { title: conclusion === "success" ? "Passed" : "Failed", summary: "s" },
  });

test("a check run is created once and then updated in place", async () => {
  const { outbox } = makeOutbox();
  const name = uniqueName();
  await outbox.checkRun(FULL, 1, state(name));
  await drain(outbox);
  await outbox.checkRun(FULL, 1, state(name, { status: "in_progress" }));
  await drain(outbox);
  await outbox.checkRun(FULL, 1, done(name));
  await drain(outbox);
  const runs = gh.checkRuns(FULL, HEAD).filter((c) => c.name === name);
  assert.equal(runs.length, 1);
  assert.equal(runs[0]!.conclusion, "success");
  assert.deepEqual(
    runs[0]!.history.map((h) => h.status),
    ["queued", "in_progress", "completed"],
  );
});

test("states not yet sent are superseded by the newest one", async () => {
  const { outbox, store } = makeOutbox();
  const name = uniqueName();
  await outbox.checkRun(FULL, 1, state(name));
  await outbox.checkRun(FULL, 1, state(name, { status: "in_progress" }));
  await outbox.checkRun(FULL, 1, done(name, "failure"));
  assert.equal((await store.list("superseded")).length, 2);
  await drain(outbox);
  const [run] = gh.checkRuns(FULL, HEAD).filter((c) => c.name === name);
  assert.equal(run?.history.length, 1);
  assert.equal(run?.conclusion, "failure");
});

test("an idempotency key enqueued twice is stored once", async () => {
  const { outbox, store } = makeOutbox();
  assert.equal(await outbox.comment(FULL, 1, 7, "hello", "delivery-1:nothing-selected"), "stored");
  assert.equal(
    await outbox.comment(FULL, 1, 7, "hello", "delivery-1:nothing-selected"),
    "duplicate",
  );
  assert.equal((await store.list()).length, 1);
});

test("a 500 is retried with backoff and the check run is still created once", async () => {
  const { outbox, store, warm } = makeOutbox();
  const name = uniqueName();
  await warm();
  await outbox.checkRun(FULL, 1, done(name));
  gh.failNext(1, "server-error");
  await outbox.deliverDue();
  const [item] = await store.list("pending");
  assert.equal(item?.attempts, 1);
  assert.match(item?.lastError ?? "", /500/);
  await drain(outbox);
  assert.equal(gh.checkRuns(FULL, HEAD).filter((c) => c.name === name).length, 1);
});

test("a create whose answer was lost is looked up, not sent twice", async () => {
  const lose = losingFetch(isCreate, "throw");
  const { outbox } = makeOutbox({ fetch: lose.fetch });
  const name = uniqueName();
  await outbox.checkRun(FULL, 1, done(name));
  await drain(outbox);
  const runs = gh.checkRuns(FULL, HEAD).filter((c) => c.name === name);
  assert.equal(runs.length, 1, "one check run despite the retried create");
  assert.equal(runs[0]!.history.length, 2, "created, then updated in place");
  const lookup = lose.sent.find((r) => r.url.includes("/commits/") && r.url.includes("check-runs"));
  assert.ok(lookup, "looked up by name on the head SHA before creating again");
  assert.match(lookup.url, /check_name=airlock%2Fjob-/);
});

test("a restart mid-delivery finishes the check run without a duplicate", async () => {
  // First process: the create reaches GitHub, then the process dies before recording the answer.
  const lose = losingFetch(isCreate, "hang");
  const first = makeOutbox({ fetch: lose.fetch });
  const name = uniqueName();
  await first.outbox.checkRun(FULL, 1, state(name, { status: "in_progress" }));
  void first.outbox.deliverDue(); // never finishes: the answer hangs
  for (let i = 0; i < 200 && gh.checkRuns(FULL, HEAD).every((c) => c.name !== name); i++) {
    await sleep(10);
  }
  await first.outbox.checkRun(FULL, 1, done(name));
  assert.deepEqual(
    (await first.store.list()).map((i) => i.state),
    ["delivering", "pending"],
  );
  await restart();
  const runs = gh.checkRuns(FULL, HEAD).filter((c) => c.name === name);
  assert.equal(runs.length, 1);
  assert.equal(
    runs[0]!.conclusion,
    "success",
    "the later state was not overwritten by the earlier",
  );
  assert.deepEqual(
    runs[0]!.history.map((h) => h.status),
    ["in_progress", "in_progress", "completed"],
  );
});

// ---- a completed check run that runs again ---------------------------------------------------

const runsNamed = (name: string) => gh.checkRuns(FULL, HEAD).filter((c) => c.name === name);
const statuses = (run: { history: Record<string, unknown>[] }) =>
  run.history.map((h) => h.status ?? (h.conclusion ? "completed" : undefined));

/** A check run that failed; returns its id. */
async function failedOnce(outbox: Outbox, name: string): Promise<number> {
  await outbox.checkRun(FULL, 1, state(name));
  await drain(outbox);
  await outbox.checkRun(FULL, 1, done(name, "failure"));
  await drain(outbox);
  const [old] = runsNamed(name);
  assert.equal(old?.conclusion, "failure");
  return old.id;
}

test("a completed check run that runs again gets a new check run; the old one keeps its result", async () => {
  const { outbox } = makeOutbox();
  const name = uniqueName();
  const oldId = await failedOnce(outbox, name);
  await outbox.checkRun(FULL, 1, state(name));
  await drain(outbox);
  await outbox.checkRun(FULL, 1, state(name, { status: "in_progress" }));
  await drain(outbox);
  await outbox.checkRun(FULL, 1, done(name, "success"));
  await drain(outbox);
  const [old, rerun, ...more] = runsNamed(name);
  assert.equal(more.length, 0);
  assert.equal(old!.id, oldId);
  assert.equal(old!.conclusion, "failure");
  assert.deepEqual(statuses(old!), ["queued", "completed"], "the old run was left alone");
  assert.notEqual(rerun!.id, oldId);
  assert.equal(rerun!.conclusion, "success");
  assert.deepEqual(statuses(rerun!), ["queued", "in_progress", "completed"]);
  assert.equal((await tdb.store.checkRuns.get(FULL, HEAD, name))?.id, rerun!.id);
  assert.equal(gh.checkRunConclusions(FULL, HEAD)[name], "success", "the PR shows the newest");
});

test("a re-run whose queued and running states were superseded by its result is still a new check run", async () => {
  const { outbox } = makeOutbox();
  const name = uniqueName();
  const oldId = await failedOnce(outbox, name);
  await outbox.checkRun(FULL, 1, state(name));
  await outbox.checkRun(FULL, 1, state(name, { status: "in_progress" }));
  await outbox.checkRun(FULL, 1, done(name, "success"));
  await drain(outbox);
  const runs = runsNamed(name);
  assert.equal(runs.length, 2);
  assert.equal(runs[0]!.id, oldId);
  assert.equal(runs[0]!.conclusion, "failure");
  assert.equal(runs[1]!.conclusion, "success");
  assert.equal(runs[1]!.history.length, 1, "created with the result, the only state sent");
});

test("a completed check run given another result is updated in place", async () => {
  const { outbox } = makeOutbox();
  const name = uniqueName();
  const oldId = await failedOnce(outbox, name);
  await outbox.checkRun(FULL, 1, done(name, "success"));
  await drain(outbox);
  const runs = runsNamed(name);
  assert.equal(runs.length, 1);
  assert.equal(runs[0]!.id, oldId);
  assert.equal(runs[0]!.conclusion, "success");
});

test("a re-run's create whose answer was lost is found by name, and the old run is not taken for it", async () => {
  let creates = 0;
  const lose = losingFetch((m, u) => isCreate(m, u) && ++creates === 2, "throw");
  const { outbox } = makeOutbox({ fetch: lose.fetch });
  const name = uniqueName();
  const oldId = await failedOnce(outbox, name);
  await outbox.checkRun(FULL, 1, state(name, { status: "in_progress" }));
  await drain(outbox);
  await outbox.checkRun(FULL, 1, done(name, "success"));
  await drain(outbox);
  const runs = runsNamed(name);
  assert.equal(runs.length, 2, "one new check run despite the retried create");
  assert.equal(runs[0]!.id, oldId);
  assert.deepEqual(statuses(runs[0]!), ["queued", "completed"], "the old run was left alone");
  assert.equal(runs[0]!.conclusion, "failure");
  assert.deepEqual(statuses(runs[1]!), ["in_progress", "in_progress", "completed"]);
  assert.equal(runs[1]!.conclusion, "success");
  assert.equal((await tdb.store.checkRuns.get(FULL, HEAD, name))?.id, runs[1]!.id);
  assert.ok(
    lose.sent.some((r) => r.url.includes("/commits/") && r.url.includes("check-runs")),
    "looked up by name before creating again",
  );
});

test("a re-run's create that never arrived is sent again, not replaced by the old run", async () => {
  const { outbox, warm } = makeOutbox();
  await warm();
  const name = uniqueName();
  const oldId = await failedOnce(outbox, name);
  await outbox.checkRun(FULL, 1, state(name, { status: "in_progress" }));
  gh.failNext(1, "server-error"); // the create is answered 500 and creates nothing
  await outbox.deliverDue();
  assert.equal(runsNamed(name).length, 1);
  await drain(outbox);
  const runs = runsNamed(name);
  assert.equal(runs.length, 2);
  assert.equal(runs[0]!.id, oldId);
  assert.equal(runs[0]!.conclusion, "failure", "the old run was not reopened");
  assert.deepEqual(statuses(runs[1]!), ["in_progress"]);
});

test("a restart between a re-run's create and its answer finishes the new run without a duplicate", async () => {
  // First process: the re-run's create reaches GitHub, then the process dies before its answer.
  let creates = 0;
  const lose = losingFetch((m, u) => isCreate(m, u) && ++creates === 2, "hang");
  const first = makeOutbox({ fetch: lose.fetch });
  const name = uniqueName();
  const oldId = await failedOnce(first.outbox, name);
  await first.outbox.checkRun(FULL, 1, state(name, { status: "in_progress" }));
  void first.outbox.deliverDue(); // never finishes: the answer hangs
  for (let i = 0; i < 200 && runsNamed(name).length < 2; i++) await sleep(10);
  assert.equal(runsNamed(name).length, 2, "the create reached GitHub");
  assert.equal(
    (await first.checkRuns.get(FULL, HEAD, name))?.id,
    null,
    "its answer was not recorded",
  );
  await first.outbox.checkRun(FULL, 1, done(name, "success"));
  const second = await restart();
  const runs = runsNamed(name);
  assert.equal(runs.length, 2);
  assert.equal(runs[0]!.id, oldId);
  assert.equal(runs[0]!.conclusion, "failure");
  assert.deepEqual(statuses(runs[0]!), ["queued", "completed"]);
  assert.equal(runs[1]!.conclusion, "success");
  assert.deepEqual(statuses(runs[1]!), ["in_progress", "in_progress", "completed"]);
  assert.equal((await second.checkRuns.get(FULL, HEAD, name))?.id, runs[1]!.id);
});

test("a re-run's result delivered twice (the process died before marking it sent) stays on one new run", async () => {
  const { outbox, store } = makeOutbox();
  const name = uniqueName();
  await failedOnce(outbox, name);
  await outbox.checkRun(FULL, 1, state(name));
  await outbox.checkRun(FULL, 1, done(name, "success"));
  const claimed = await store.claimNext();
  await outbox.deliver(claimed!);
  // As if the process died after the send and before `complete`.
  await diedMidDelivery(claimed!.seq);
  const again = await store.claimNext();
  assert.equal(again?.seq, claimed!.seq);
  await outbox.deliver(again!);
  const runs = runsNamed(name);
  assert.equal(runs.length, 2);
  assert.equal(runs[1]!.history.length, 2, "the second delivery updated the new run");
  assert.equal(runs[1]!.conclusion, "success");
});

test("a state whose sender died after recording its check run is not superseded by a newer one: no second run", async () => {
  const { outbox, store } = makeOutbox();
  const name = uniqueName();
  // Its queued state unsent, the result stands in for it (and would reopen a completed check).
  await outbox.checkRun(FULL, 1, state(name));
  await outbox.checkRun(FULL, 1, done(name, "success"));
  const claimed = await store.claimNext();
  await outbox.deliver(claimed!);
  assert.equal(runsNamed(name).length, 1);
  // As if the process died after recording the check run and before `complete`; the same
  // result is reported again before it is sent.
  await diedMidDelivery(claimed!.seq);
  await outbox.checkRun(FULL, 1, done(name, "success"));
  await drain(outbox);
  const runs = runsNamed(name);
  assert.equal(runs.length, 1, `check runs: ${runs.map((r) => r.id).join(", ")}`);
  assert.equal(runs[0]!.conclusion, "success");
});

test("upgrading: each check run recorded before learns the status last delivered to it", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "airlock-gw-"));
  const sqlite = new SQLite(path.join(dir, "airlock.db"));
  const db = new Kysely<unknown>({ dialect: new SqliteDialect({ database: sqlite }) });
  try {
    const migrator = new Migrator({
      db,
      provider: {
        getMigrations: async () => ({ "005_outbox": m005, "009_check_run_status": m009 }),
      },
    });
    assert.equal((await migrator.migrateTo("005_outbox")).error, undefined);
    // What the outbox left before the upgrade: "a" completed, "b" running with its result unsent.
    const item = sqlite.prepare(
      `INSERT INTO outbox (kind, idempotency_key, ordering_key, repo, installation_id, payload,
         state, attempts, created_at, next_attempt_at)
       VALUES ('check_run', ?, ?, ?, 1, ?, ?, 1, 0, 0)`,
    );
    const send = (name: string, st: Partial<CheckRunState>, itemState: string) =>
      item.run(
        `k-${Math.random()}`,
        `check:${FULL}:${HEAD}:${name}`,
        FULL,
        JSON.stringify({ kind: "check_run", state: state(name, st) }),
        itemState,
      );
    send("a", { status: "queued" }, "done");
    send("a", { status: "completed", conclusion: "failure" }, "done");
    send("b", { status: "in_progress" }, "done");
    send("b", { status: "completed", conclusion: "success" }, "pending");
    const rec = sqlite.prepare(
      `INSERT INTO check_run_ids (repo, head_sha, name, check_run_id, via, updated_at)
       VALUES (?, ?, ?, ?, 'checks', 0)`,
    );
    rec.run(FULL, HEAD, "a", 11);
    rec.run(FULL, HEAD, "b", 12);
    rec.run(FULL, HEAD, "c", 13);
    assert.equal((await migrator.migrateToLatest()).error, undefined);
    // The records as the store reads them (on the two migrations this test applies).
    const store = new KyselyStore(
      db as never,
      "sqlite",
      { settled: new Set(), lease: { holder: "test", ttlMs: 30_000 } },
      {
        purgeDeleted: async () => {},
      },
    );
    const stored = (name: string) => store.checkRuns.get(FULL, HEAD, name);
    assert.equal((await stored("a"))?.status, "completed");
    assert.equal((await stored("b"))?.status, "in_progress");
    assert.equal((await stored("c"))?.status, null, "nothing known: updated in place");
    assert.equal((await stored("a"))?.id, 11);
  } finally {
    await db.destroy();
    removeDir(dir);
  }
});

test("updates of one check run are sent in order, one at a time", async () => {
  const { outbox, store } = makeOutbox();
  const name = uniqueName();
  await outbox.checkRun(FULL, 1, state(name, { status: "in_progress" }));
  const claimed = await store.claimNext();
  assert.ok(claimed);
  await outbox.checkRun(FULL, 1, done(name));
  assert.equal(await store.claimNext(), undefined, "the newer state waits for the one in flight");
  // The first attempt fails and goes back to the queue; it still goes first.
  await store.retryLater(claimed.seq, 0, "GitHub answered 502");
  const next = await store.claimNext();
  assert.equal(next?.seq, claimed.seq);
  await outbox.deliver(next!);
  await drain(outbox);
  const [run] = gh.checkRuns(FULL, HEAD).filter((c) => c.name === name);
  assert.deepEqual(
    run?.history.map((h) => h.status),
    ["in_progress", "completed"],
  );
});

test("Retry-After is honoured", async () => {
  const lose = losingFetch(() => false, "throw");
  const { outbox, warm } = makeOutbox({ fetch: lose.fetch });
  await warm();
  const name = uniqueName();
  await outbox.checkRun(FULL, 1, done(name));
  gh.failNext(1, "too-many-requests"); // 429 with Retry-After: 1
  await outbox.deliverDue();
  assert.equal(await outbox.deliverDue(), 0, "nothing is sent during the wait");
  await drain(outbox);
  const creates = lose.sent.filter((r) => isCreate(r.method, r.url));
  assert.equal(creates.length, 2);
  assert.ok(creates[1]!.at - creates[0]!.at >= 990, "waited the second GitHub asked for");
  assert.equal(gh.checkRuns(FULL, HEAD).filter((c) => c.name === name).length, 1);
});

test("a 403 rate limit pauses until the reset and is not taken for a permission refusal", async () => {
  const lose = losingFetch(() => false, "throw");
  const { outbox, warm, store } = makeOutbox({ fetch: lose.fetch });
  await warm();
  const name = uniqueName();
  await outbox.checkRun(FULL, 1, done(name));
  gh.failNext(1, "rate-limit"); // 403, x-ratelimit-remaining: 0, reset within a second
  await outbox.deliverDue();
  assert.equal((await store.list("pending")).length, 1);
  await drain(outbox);
  assert.equal(gh.checkRuns(FULL, HEAD).filter((c) => c.name === name).length, 1);
  assert.equal(gh.statuses(FULL, HEAD).filter((s) => s.context === name).length, 0);
});

test("where checks are refused, commit statuses stand in", async () => {
  // The installation lacks checks:write: GitHub answers 403 without rate-limit signals.
  const refuse = (async (input: string | URL | Request, init?: RequestInit) => {
    if ((init?.method ?? "GET") !== "GET" && String(input).includes("/check-runs")) {
      return new Response(JSON.stringify({ message: "Resource not accessible by integration" }), {
        status: 403,
        headers: { "content-type": "application/json", "x-ratelimit-remaining": "4000" },
      });
    }
    return fetch(input, init);
  }) as typeof fetch;
  const { outbox } = makeOutbox({ fetch: refuse });
  const name = uniqueName();
  const url = "https://airlock.example.org/runs/r1";
  await outbox.checkRun(FULL, 1, state(name, { status: "in_progress", details_url: url }));
  await drain(outbox);
  await outbox.checkRun(FULL, 1, { ...done(name, "failure"), details_url: url });
  await drain(outbox);
  const statuses = gh.statuses(FULL, HEAD).filter((s) => s.context === name);
  assert.deepEqual(
    statuses.map((s) => s.state),
    ["pending", "failure"],
  );
  assert.equal(statuses[1]!.target_url, url);
  assert.equal(gh.checkRuns(FULL, HEAD).filter((c) => c.name === name).length, 0);
});

test("a comment whose answer was lost is not posted twice", async () => {
  const lose = losingFetch((m, u) => m === "POST" && u.endsWith("/comments"), "throw");
  const { outbox } = makeOutbox({ fetch: lose.fetch });
  gh.addPull(FULL, { number: 9, headSha: HEAD, baseSha: sha("f"), author: "mallory" });
  await outbox.comment(FULL, 1, 9, "The label `test-nothing` selects no job.", "d-9:label");
  await drain(outbox);
  const posted = gh.comments(FULL, 9);
  assert.equal(posted.length, 1);
  assert.match(posted[0]!.body, /selects no job[\s\S]*<!-- airlock:[0-9a-f]{24} -->/);
});

test("a permanent refusal is recorded as failed and not retried", async () => {
  const reject = (async (input: string | URL | Request, init?: RequestInit) => {
    if (init?.method === "POST" && String(input).includes("/statuses/")) {
      return new Response(JSON.stringify({ message: "Validation Failed" }), {
        status: 422,
        headers: { "content-type": "application/json" },
      });
    }
    return fetch(input, init);
  }) as typeof fetch;
  const { outbox, store } = makeOutbox({ fetch: reject });
  await outbox.status(FULL, 1, HEAD, { state: "success", context: uniqueName() });
  await outbox.deliverDue();
  const [f] = await store.list("failed");
  assert.match(f?.lastError ?? "", /422.*Validation Failed/);
  assert.equal(await store.depth(), 0);
});

test("a store that fails (recording a retry, claiming) pauses delivery, which goes on", async () => {
  const watch = watchUnhandled();
  try {
    const { client, warm } = makeOutbox();
    await warm();
    // GitHub fails the create, then the store fails to record the retry (a read-only data
    // directory), then to claim: the loop pauses and resumes, and the item is sent once.
    const { store, failed } = failing(tdb.store.outbox, { retryLater: 1, claimNext: 2 });
    const errors: string[] = [];
    const outbox = new Outbox(withPart(tdb.store, "outbox", store), {
      forgeFor: () => client,
      baseDelayMs: 5,
      storeBackoffMs: 5,
      random: () => 0.5,
      log: { warn: () => {}, error: (_o, msg) => errors.push(msg) },
    });
    const name = uniqueName();
    await outbox.checkRun(FULL, 1, done(name));
    gh.failNext(1, "server-error");
    await outbox.start();
    const until = Date.now() + PATIENCE_MS;
    while (gh.checkRuns(FULL, HEAD).filter((c) => c.name === name).length === 0) {
      assert.ok(Date.now() < until, "the outbox did not go on after its store failed");
      await sleep(10);
    }
    while ((await store.depth()) > 0) {
      assert.ok(Date.now() < until, "the outbox did not record the delivery");
      await sleep(10);
    }
    await outbox.stop();
    assert.deepEqual(failed, { retryLater: 1, claimNext: 2 });
    // Said in the log (several workers' failures at once count as one pause).
    assert.ok(errors.length > 0);
    for (const m of errors) assert.match(m, /store failed, delivery pauses: .*disk I\/O error/);
    const runs = gh.checkRuns(FULL, HEAD).filter((c) => c.name === name);
    assert.equal(runs.length, 1, "created once");
    assert.equal(runs[0]!.conclusion, "success");
    watch.assertNone();
  } finally {
    watch.stop();
  }
});

test("backoff grows exponentially with jitter and is capped", () => {
  let r = 0;
  const p = {
    baseDelayMs: 1000,
    maxDelayMs: 10_000,
    rateLimitDelayMs: 60_000,
    deadlineMs: 3600_000,
    random: () => r,
  };
  assert.deepEqual(
    [1, 2, 3, 4, 5, 9].map((a) => backoff(p, a)),
    [500, 1000, 2000, 4000, 5000, 5000],
  );
  r = 1;
  assert.deepEqual(
    [1, 2, 3, 9].map((a) => backoff(p, a)),
    [1000, 2000, 4000, 10_000],
  );
});

test("check states map onto commit statuses within GitHub's limits", () => {
  const long = "x".repeat(500);
  const s = statusFromCheck({
    name: "airlock/a",
    head_sha: HEAD,
    status: "completed",
    conclusion: "cancelled",
    output: { title: long, summary: "" },
  });
  assert.equal(s.state, "error");
  assert.ok((s.description ?? "").length <= 140);
  assert.equal(statusFromCheck({ name: "n", head_sha: HEAD, status: "queued" }).state, "pending");
  assert.equal(
    statusFromCheck({ name: "n", head_sha: HEAD, status: "completed", conclusion: "skipped" })
      .state,
    "success",
  );
});
