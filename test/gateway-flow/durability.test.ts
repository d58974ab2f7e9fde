// The gateway killed with SIGKILL at random points while deliveries and runs are in flight: after
// the restarts every stored delivery is processed exactly once, every run reaches a final state
// and every check run its final conclusion on GitHub's side.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import SQLite from "better-sqlite3";
import { commentPayload, prPayload, TRUSTED, UNTRUSTED, WEBHOOK_SECRET, World } from "./harness.js";

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures", "flow-child.ts");
let w: World | undefined;
let child: ChildProcess | undefined;

after(async () => {
  child?.kill("SIGKILL");
  await w?.close();
});

async function startChild(world: World): Promise<{ proc: ChildProcess; url: string }> {
  const tmp = path.join(world.root, "tmp");
  mkdirSync(tmp, { recursive: true });
  const arg = JSON.stringify({
    dataDir: world.dataDir,
    cloneBase: world.repo.cloneBase,
    gh: { appId: world.gh.appId, privateKey: world.gh.privateKey, url: world.gh.url },
  });
  const proc = spawn(process.execPath, ["--import", "tsx", CHILD, arg], {
    stdio: ["ignore", "pipe", "inherit"],
    // Workspaces of killed runs stay inside the test's directory.
    env: { ...process.env, TMPDIR: tmp },
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    proc.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const line = out.split("\n")[0];
      if (out.includes("\n") && line) resolve(line.trim());
    });
    proc.on("exit", (code) => reject(new Error(`gateway exited early (${code})`)));
  });
  return { proc, url };
}

test("SIGKILL at random points loses nothing and repeats nothing", {
  timeout: 90_000,
}, async (t) => {
  w = await World.create(undefined, { server: false });
  const world = w;
  const trusted = world.openPr({ author: TRUSTED });
  const untrusted = world.openPr({ author: UNTRUSTED });
  const deliveries: { event: string; payload: unknown; id: string }[] = [
    {
      event: "pull_request",
      payload: prPayload("opened", trusted, { baseSha: world.baseSha }),
      id: "d-1",
    },
    {
      event: "pull_request",
      payload: prPayload("opened", untrusted, { baseSha: world.baseSha }),
      id: "d-2",
    },
    {
      event: "issue_comment",
      payload: commentPayload(untrusted.number, "/ok-to-test", TRUSTED),
      id: "d-3",
    },
    {
      event: "issue_comment",
      payload: commentPayload(trusted.number, "/test all", TRUSTED),
      id: "d-4",
    },
  ];
  const acked = new Set<string>();
  let url = "";
  const send = async (d: (typeof deliveries)[number]) => {
    const { sign } = await import("@octokit/webhooks-methods");
    const body = JSON.stringify(d.payload);
    try {
      const res = await fetch(`${url}/webhooks/github`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-github-event": d.event,
          "x-github-delivery": d.id,
          "x-hub-signature-256": await sign(WEBHOOK_SECRET, body),
        },
        body,
      });
      if (res.status === 202 || res.status === 200) acked.add(d.id);
    } catch {
      // The gateway is down: GitHub redelivers later.
    }
  };

  for (let round = 0; round < 4; round++) {
    const c = await startChild(world);
    child = c.proc;
    url = c.url;
    // Deliveries not yet acknowledged are (re)delivered, as GitHub's redelivery would.
    const pending = deliveries.filter((d) => !acked.has(d.id));
    const sending = (async () => {
      for (const d of pending) {
        await send(d);
        await new Promise((r) => setTimeout(r, Math.random() * 150));
      }
    })();
    await new Promise((r) => setTimeout(r, 150 + Math.random() * 900));
    child.kill("SIGKILL");
    await new Promise((r) => child!.once("exit", r));
    await sending;
  }
  // The last life: runs to the end.
  const c = await startChild(world);
  child = c.proc;
  url = c.url;
  for (const d of deliveries.filter((x) => !acked.has(x.id))) await send(d);
  assert.equal(acked.size, deliveries.length);

  const db = new SQLite(path.join(world.dataDir, "airlock.db"), { readonly: true });
  try {
    const until = Date.now() + 60_000;
    for (;;) {
      const busy = db
        .prepare(
          `SELECT (SELECT count(*) FROM events WHERE state IN ('pending','processing'))
                + (SELECT count(*) FROM run_requests WHERE state IN ('queued','running'))
                + (SELECT count(*) FROM outbox WHERE state IN ('pending','delivering')) AS n`,
        )
        .get() as { n: number };
      if (busy.n === 0) break;
      assert.ok(Date.now() < until, "the gateway did not settle after the restarts");
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 300));

    const events = db.prepare("SELECT delivery_id, state FROM events ORDER BY seq").all() as {
      delivery_id: string;
      state: string;
    }[];
    assert.deepEqual(events.map((e) => e.delivery_id).sort(), deliveries.map((d) => d.id).sort());
    for (const e of events) assert.equal(e.state, "done", `delivery ${e.delivery_id}`);
    // Each delivery requested its runs once, however often it was taken up again.
    const firsts = db
      .prepare(
        "SELECT pr, kind, count(*) AS n FROM run_requests WHERE attempt = 1 GROUP BY pr, kind",
      )
      .all() as { pr: number; kind: string; n: number }[];
    const byKey = Object.fromEntries(firsts.map((r) => [`${r.pr}:${r.kind}`, r.n]));
    assert.equal(byKey[`${trusted.number}:full`], 1);
    assert.equal(byKey[`${untrusted.number}:public`], 1);
    assert.equal(byKey[`${untrusted.number}:restricted`] ?? byKey[`${untrusted.number}:full`], 1);
    const open = db
      .prepare("SELECT count(*) AS n FROM runs WHERE status IN ('queued','running')")
      .get() as { n: number };
    assert.equal(open.n, 0, "every run reached a final state");
    const retaken = db
      .prepare("SELECT count(*) AS n FROM run_requests WHERE attempt > 1")
      .get() as { n: number };
    const retried = db.prepare("SELECT count(*) AS n FROM events WHERE attempts > 1").get() as {
      n: number;
    };
    t.diagnostic(`runs taken up again: ${retaken.n}; deliveries processed again: ${retried.n}`);
    const failed = db.prepare("SELECT count(*) AS n FROM outbox WHERE state = 'failed'").get() as {
      n: number;
    };
    assert.equal(failed.n, 0);
  } finally {
    db.close();
  }
  for (const pr of [trusted, untrusted]) {
    const checks = world.gh.checkRuns("acme/app", pr.headSha);
    for (const ch of checks) assert.equal(ch.status, "completed", `${ch.name} on PR ${pr.number}`);
    const names = Object.fromEntries(checks.map((ch) => [ch.name, ch.conclusion]));
    assert.equal(names["airlock/unit"], "success");
    assert.equal(names["airlock/functional-aws"], "success");
    assert.equal(names["airlock/functional-scw"], "success");
    assert.equal(names["airlock/all-tests"], "success");
    assert.equal(names["airlock/approval"], "success");
  }
  // A check run is created once per commit and name, then updated in place.
  const all = world.gh.checkRuns("acme/app");
  assert.equal(new Set(all.map((c) => `${c.head_sha}:${c.name}`)).size, all.length);
  world.gh.assertNoViolations();
  child.kill("SIGTERM");
  await new Promise((r) => child!.once("exit", r));
  child = undefined;
});
