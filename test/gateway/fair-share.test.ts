// The gateway's job slots on their own: the total, each pull request's and author's share of
// public jobs, waiters served in order without being held up behind one whose share is full,
// and a waiter cancelled while it waits.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FairShare } from "../../src/gateway/fair-share.js";
import type { RunRequestRow } from "../../src/store/index.js";

const pub = (pr: string, author: string) => ({ pr, author, public: true });
const never = new AbortController().signal;

/** Whether the promise settled already (it never will by itself otherwise). */
async function settled<T>(p: Promise<T>): Promise<boolean> {
  const marker = Symbol();
  return (await Promise.race([p, Promise.resolve(marker)])) !== marker;
}

describe("FairShare", () => {
  it("holds public jobs past their pull request's and author's share, and every job past the total", async () => {
    const s = new FairShare({ jobs: 3, publicJobsPerPr: 1, publicJobsPerAuthor: 2 });
    const a1 = await s.acquire(pub("r#1", "mallory"), never);
    assert.ok(a1);
    const samePr = s.acquire(pub("r#1", "mallory"), never);
    const a2 = await s.acquire(pub("r#2", "mallory"), never);
    assert.ok(a2, "another PR of the same author fits their share");
    const third = s.acquire(pub("r#3", "mallory"), never);
    assert.equal(await settled(samePr), false, "one public job per PR");
    assert.equal(await settled(third), false, "two public jobs per author");
    // Someone else's job is not held up behind the outsider's.
    const other = await s.acquire(pub("r#9", "bob"), never);
    assert.ok(other);
    assert.deepEqual(s.usage().jobs, 3);
    // The total holds restricted jobs too.
    const restricted = s.acquire({ pr: "r#9", author: "bob", public: false }, never);
    assert.equal(await settled(restricted), false, "three jobs at once in all");

    a1();
    // The first waiter that fits gets the slot: the same PR's job (in order), not the third PR.
    const r1 = await samePr;
    assert.ok(r1);
    assert.equal(await settled(third), false);
    a1(); // a release counts once
    assert.equal(await settled(restricted), false);
    other();
    assert.ok(await restricted);
    r1();
    assert.ok(await third, "the author is back under their share");
    assert.deepEqual(s.usage().byAuthor.get("mallory"), 2);
    assert.equal(s.usage().jobs, 3);
  });

  it("a waiter cancelled while it waits gets nothing and lets the next one through", async () => {
    const s = new FairShare({ jobs: 1, publicJobsPerPr: 1, publicJobsPerAuthor: 1 });
    const held = (await s.acquire(pub("r#1", "a"), never))!;
    const ctrl = new AbortController();
    const cancelled = s.acquire(pub("r#2", "b"), ctrl.signal);
    const next = s.acquire(pub("r#3", "c"), never);
    ctrl.abort();
    assert.equal(await cancelled, null);
    held();
    assert.ok(await next);
    assert.equal(s.usage().jobs, 1);
    assert.equal(await s.acquire(pub("r#4", "d"), AbortSignal.abort()), null);
  });

  it("keeps a run with public jobs queued while its author or PR has its share of runs in flight", () => {
    const s = new FairShare({ jobs: 4, publicJobsPerPr: 1, publicJobsPerAuthor: 2 });
    const req = (pr: number, author: string, kind: RunRequestRow["kind"]) =>
      ({ repo: "acme/app", pr, author, kind }) as RunRequestRow;
    const inFlight = [req(1, "mallory", "public"), req(2, "mallory", "full")];
    assert.equal(s.holds(req(3, "mallory", "public"), inFlight), true, "author's share");
    assert.equal(s.holds(req(1, "bob", "full"), [req(1, "alice", "public")]), true, "PR's share");
    assert.equal(s.holds(req(4, "bob", "public"), inFlight), false);
    assert.equal(s.holds(req(3, "mallory", "restricted"), inFlight), false, "no public job");
    assert.equal(
      s.holds(req(3, "mallory", "public"), [req(1, "mallory", "restricted")]),
      false,
      "a restricted run holds no public share",
    );
  });
});
