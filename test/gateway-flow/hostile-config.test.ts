// A hostile `.airlock.yml` in a pull request's head (2,000 levels of nesting, 17.5 MB) through the
// real HTTP server: each delivery is processed once, without a retry; the PR gets one failing
// check that says why, and its public jobs still run from the base definition. A base commit's
// file over the cap gets the failing gate that says why. The server answers throughout.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { prPayload, REPO, UNTRUSTED, World } from "./harness.js";

let w: World;
before(async () => {
  w = await World.create();
});
after(async () => {
  w?.gh.assertNoViolations();
  await w?.close();
});

const DEEP = `version: 1\njobs:\n  unit:\n    run: "true"\n    env:\n      X: ${"{k: ".repeat(2000)}v${"}".repeat(2000)}\n`;
// 17.5 MB: the size that once overflowed the gateway's read buffer.
const HUGE = `version: 1\njobs:\n  unit:\n    run: "true"\n${`# ${"h".repeat(98)}\n`.repeat(175_000)}`;

async function eventsOf(deliveryIds: string[]) {
  const events = await Promise.all(deliveryIds.map((id) => w.server.db.events.get(id)));
  return events.map((e) => ({ state: e?.state, attempts: e?.attempts, error: e?.error }));
}

test("a PR head's .airlock.yml nested 2,000 deep or 17.5 MB big: one failing check that says why", async () => {
  const deep = w.openPr({ author: UNTRUSTED, files: { ".airlock.yml": DEEP } });
  const huge = w.openPr({ author: UNTRUSTED, files: { ".airlock.yml": HUGE } });
  const ids: string[] = [];
  for (const pr of [deep, huge]) {
    const res = await w.send("pull_request", prPayload("opened", pr, { baseSha: w.baseSha }));
    assert.equal(res.status, 202);
    ids.push(res.id);
  }
  // The server answers while the files are handled.
  assert.equal((await fetch(`${w.server.url}/healthz`)).status, 200);
  await w.settle();

  for (const e of await eventsOf(ids))
    assert.deepEqual(e, { state: "done", attempts: 1, error: null });
  const titles = [deep, huge].map((pr) => {
    const check = w.check(pr.headSha, "airlock/configuration");
    assert.equal(check?.conclusion, "failure");
    assert.equal(
      w.gh.checkRuns(REPO, pr.headSha).filter((c) => c.name === "airlock/configuration").length,
      1,
    );
    // The public jobs ran from the base definition, as the summaries say.
    assert.equal(w.checks(pr.headSha)["airlock/unit"], "success");
    return check?.output.title;
  });
  assert.equal(titles[0], "configuration rejected: nested deeper than 64 levels");
  assert.match(
    titles[1] ?? "",
    /^configuration rejected: the file is 17\d{6} bytes, over the limit of 1048576/,
  );
});

test("a base commit's .airlock.yml over the cap fails the gate, saying why, without retries", async () => {
  const pr = w.openPr({ author: UNTRUSTED });
  const base = w.repo.commit({ "README.md": "bigger base\n" }, w.baseSha);
  w.gh.setFile(REPO, base, ".airlock.yml", HUGE);
  w.gh.updatePull(REPO, pr.number, { baseSha: base });
  const res = await w.send("pull_request", prPayload("opened", pr, { baseSha: base }));
  await w.settle();
  assert.deepEqual(await eventsOf([res.id]), [{ state: "done", attempts: 1, error: null }]);
  const gate = w.check(pr.headSha, "airlock/all-tests");
  assert.equal(gate?.conclusion, "failure");
  assert.match(gate?.output.summary ?? "", /configuration rejected: the file is 17\d{6} bytes/);
});
