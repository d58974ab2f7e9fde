// Three `airlock serve` replicas on one PostgreSQL behind a round-robin front, 300 signed
// deliveries (pull requests opened and pushed to by trusted and untrusted authors, approvals good,
// stale and from outsiders, chatter, redeliveries of the same delivery id), and a random replica
// SIGKILLed after every KILL_EVERY acknowledged deliveries, then started again. Afterwards, from the
// database, the shared logs and the GitHub double's counts: every acknowledged delivery was stored
// once and processed once, no job attempt started twice, no check run was created twice, every
// check concluded, and the gate is right on every pull request's final head. A failure names each
// pull request that went wrong with its history (requests, attempts, job states and errors, each
// check's states and the run that wrote them) and the replicas' warnings and errors.
//
// The front is the client's: deliveries go to the replicas in turn, and one whose replica is down
// (refused, or cut off mid-request by the kill) goes to the next, as GitHub redelivers. Sending
// stays at most AHEAD deliveries ahead of processing, so that kills land while work is in flight.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, type TestContext, test } from "node:test";
import { sign } from "@octokit/webhooks-methods";
import { type OpenedStore, openStore } from "../../src/store/index.js";
import { DATABASE_ENV } from "../../src/store/settings.js";
import type { Payload } from "../gateway/helpers.js";
import {
  assertNoCheckRunCreatedTwice,
  commentPayload,
  historyOf,
  PUBLIC_URL,
  prPayload,
  REPO,
  WEBHOOK_SECRET,
  World,
} from "../gateway-flow/harness.js";
import { engines } from "../support/engines.js";
import { PATIENCE_MS } from "../support/patience.js";
import type { Served } from "./helpers.js";
import { startReplica } from "./replica-support.js";

const DELIVERIES = 300;
const KILL_EVERY = 40;
const AHEAD = 24;
const REPLICAS = ["r1", "r2", "r3"];
// Members of the org "acme" (trusted); the others are outsiders.
const MEMBERS = ["alice", "bob"];
const OUTSIDERS = ["mallory", "eve"];

// Small jobs: each says once that it started (the shared log shows a second start).
const PIPELINE = `version: 1
secrets:
  cloud:
    backend: embedded
trust:
  orgs: [acme]
jobs:
  unit:
    run: echo "unit started"
  functional:
    needs: [unit]
    secrets: [cloud]
    run: echo "functional started"
`;

const postgres = (await engines()).find((e) => e.name === "postgres");

/** A small seeded generator, so that a failing mix can be replayed (the seed is printed). */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Pr {
  number: number;
  headSha: string;
  author: string;
  /** Heads in order, the last one current. */
  heads: string[];
  /** Heads a member approved with `/ok-to-test <sha>` while they were the head. */
  approved: Set<string>;
  /** `/ok-to-test <sha>` of an older head: refused, with a reply. */
  stale: number;
}

interface Slot {
  name: string;
  /** The replica last started (dead until the front finds out). */
  served: Served | undefined;
  /** Set while it is being started again. */
  starting: Promise<void> | undefined;
}

if (postgres) {
  const pg = postgres;
  let w: World | undefined;
  const slots: Slot[] = REPLICAS.map((name) => ({ name, served: undefined, starting: undefined }));

  after(async () => {
    for (const s of slots) {
      await s.starting?.catch(() => {});
      await s.served?.stop();
    }
    await w?.close();
  });

  /** What the killed replicas printed, for a failure's diagnostics. */
  const outputs: string[] = [];
  /** Their warnings and errors (pino levels 40 and up), the last ones. */
  const complaints = () =>
    [...outputs, ...slots.map((s) => s.served?.output() ?? "")]
      .join("\n")
      .split("\n")
      .filter((l) => /"level":(4|5|6)0/.test(l))
      .slice(-40);

  test(`${DELIVERIES} deliveries to 3 replicas, one SIGKILLed every ${KILL_EVERY}: nothing lost, nothing twice`, {
    // A safety net only: the test ends on counts (deliveries sent, work settled).
    timeout: 3 * PATIENCE_MS,
  }, async (t) => {
    try {
      await chaos(t);
    } catch (e) {
      // Printed here: the runner drops a diagnostic given in an after hook.
      for (const l of complaints()) t.diagnostic(l);
      throw e;
    }
  });

  async function chaos(t: TestContext) {
    const seed = Number(process.env.AIRLOCK_CHAOS_SEED ?? Date.now() % 1_000_000);
    t.diagnostic(`seed ${seed} (AIRLOCK_CHAOS_SEED replays it)`);
    const rand = random(seed);
    const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;

    w = await World.on(pg, PIPELINE, { server: false });
    const world = w;
    const config = path.join(world.root, "serve.yml");
    writeFileSync(config, "capacity:\n  jobs: 2\n  runs: 2\n");
    /** Starts the slot's replica (once `after`, its killed predecessor, has exited). */
    const start = (slot: Slot, after: Promise<unknown> = Promise.resolve()) => {
      slot.starting = after
        .then(() =>
          startReplica(world, slot.name, {
            args: ["--config", config],
            // A public URL gives checks their details link (a waiting approval is action_required).
            env: { [DATABASE_ENV.leaseTtl]: "2s", AIRLOCK_PUBLIC_URL: PUBLIC_URL },
          }),
        )
        .then((s) => {
          slot.served = s;
          slot.starting = undefined;
        });
      return slot.starting;
    };
    const t0 = Date.now();
    await Promise.all(slots.map((s) => start(s)));
    const t1 = Date.now();

    // ---- the front ----------------------------------------------------------------------------
    let turn = 0;
    const acked: { id: string; event: string; body: string }[] = [];
    let retried = 0;
    /**
     * Sends one delivery until a replica acknowledges it: its status, and whether a replica was
     * down (a send cut off by a kill may have been stored: its retry is then a duplicate).
     */
    const send = async (id: string, event: string, body: string) => {
      const headers = {
        "content-type": "application/json",
        "x-github-event": event,
        "x-github-delivery": id,
        "x-hub-signature-256": await sign(WEBHOOK_SECRET, body),
      };
      const until = Date.now() + PATIENCE_MS;
      for (let failed = 0; ; ) {
        assert.ok(Date.now() < until, `no replica took delivery ${id}`);
        const slot = slots[turn++ % slots.length]!;
        try {
          const res = await fetch(`${slot.served!.url}/webhooks/github`, {
            method: "POST",
            headers,
            body,
          });
          await res.text();
          assert.ok(res.status === 202 || res.status === 200, `delivery ${id}: ${res.status}`);
          return { status: res.status, failed };
        } catch (e) {
          if (e instanceof assert.AssertionError) throw e;
          // Refused, or cut off by a kill: the next replica gets it.
          failed++;
          retried++;
          if (failed % slots.length === 0) await new Promise((r) => setTimeout(r, 50));
        }
      }
    };

    const store: OpenedStore = await openStore({
      dataDir: world.dataDir,
      database: world.database,
    });
    t.after(() => store.close());
    /** Deliveries stored and not yet processed. */
    const unprocessed = async () =>
      Number(
        (
          await store.db
            .selectFrom("events")
            .select((eb) => eb.fn.countAll<number>().as("n"))
            .where("state", "in", ["pending", "processing"])
            .executeTakeFirstOrThrow()
        ).n,
      );

    let kills = 0;
    /** SIGKILLs a random replica (not while sending waits on it) and starts it again. */
    const killOne = () => {
      const up = slots.filter((s) => !s.starting);
      if (up.length < 2) return;
      const slot = pick(up);
      const proc = slot.served!.child;
      outputs.push(slot.served!.output());
      const exited = new Promise((r) => proc.once("exit", r));
      proc.kill("SIGKILL");
      kills++;
      void start(slot, exited);
    };

    /** Kills one replica after every KILL_EVERY acknowledged sends. */
    let sent = 0;
    const before = async () => {
      if (sent > 0 && sent % KILL_EVERY === 0) killOne();
      sent++;
    };
    const deliver = async (event: string, payload: Payload) => {
      await before();
      // Stay at most AHEAD deliveries ahead of processing.
      const until = Date.now() + PATIENCE_MS;
      while ((await unprocessed()) > AHEAD) {
        assert.ok(Date.now() < until, "processing stalled");
        await new Promise((r) => setTimeout(r, 25));
      }
      const id = `d-${acked.length}`;
      const body = JSON.stringify(payload);
      const { status, failed } = await send(id, event, body);
      if (failed === 0) assert.equal(status, 202, `delivery ${id} (${event}) is new`);
      acked.push({ id, event, body });
    };
    /** The same delivery again (same id, same body): a duplicate. */
    const redeliver = async () => {
      await before();
      const d = pick(acked);
      assert.equal((await send(d.id, d.event, d.body)).status, 200, `redelivery of ${d.id}`);
    };

    // ---- the mix ------------------------------------------------------------------------------
    const prs: Pr[] = [];
    const comment = (pr: Pr, body: string, sender: string) =>
      deliver("issue_comment", commentPayload(pr.number, body, sender));
    while (sent < DELIVERIES) {
      const open = prs.filter((p) => p.heads.length < 4);
      const r = rand();
      if (prs.length < 8 || (r < 0.14 && prs.length < 45) || open.length === 0) {
        const author = pick(rand() < 0.5 ? MEMBERS : OUTSIDERS);
        const made = world.openPr({ author });
        const pr: Pr = { ...made, heads: [made.headSha], approved: new Set(), stale: 0 };
        prs.push(pr);
        await deliver("pull_request", prPayload("opened", pr, { baseSha: world.baseSha }));
      } else if (r < 0.3) {
        const pr = pick(open);
        world.push(pr);
        pr.heads.push(pr.headSha);
        await deliver("pull_request", prPayload("synchronize", pr, { baseSha: world.baseSha }));
      } else if (r < 0.42) {
        const pr = pick(prs.filter((p) => OUTSIDERS.includes(p.author)).concat(prs[0]!));
        if (OUTSIDERS.includes(pr.author) && !pr.approved.has(pr.headSha)) {
          pr.approved.add(pr.headSha);
          await comment(pr, `/ok-to-test ${pr.headSha}`, pick(MEMBERS));
        }
      } else if (r < 0.48) {
        const pr = pick(prs.filter((p) => p.heads.length > 1).concat(prs[0]!));
        if (pr.heads.length > 1) {
          pr.stale++;
          await comment(pr, `/ok-to-test ${pr.heads[0]}`, pick(MEMBERS));
        }
      } else if (r < 0.54) {
        const pr = pick(prs);
        await comment(pr, `/ok-to-test ${pr.headSha}`, pick(OUTSIDERS));
      } else if (r < 0.7) {
        const pr = pick(prs);
        await comment(pr, "thanks, looking", pick([...MEMBERS, ...OUTSIDERS]));
      } else {
        await redeliver();
      }
    }
    t.diagnostic(
      `${acked.length} deliveries and ${sent - acked.length} redeliveries to ${prs.length} pull requests; ${kills} kills; ${retried} sends cut off or refused`,
    );
    assert.ok(kills >= Math.floor(DELIVERIES / KILL_EVERY) - 2, `only ${kills} kills`);

    // ---- settled ------------------------------------------------------------------------------
    const t2 = Date.now();
    await Promise.all(slots.map((s) => s.starting));
    const until = Date.now() + PATIENCE_MS;
    for (let quiet = 0; quiet < 3; ) {
      const queued = await store.requests.inState("queued");
      const running = await store.requests.inState("running");
      const outbox = await store.outbox.depth();
      const events = await unprocessed();
      if (Date.now() >= until) {
        const stuck = [...queued, ...running].map((r) => r.pr);
        const histories = await Promise.all(
          [...new Set(stuck)].map((n) => historyOf(store, world.gh, n)),
        );
        assert.fail(
          `the replicas did not settle: ${events} deliveries, ${queued.length} queued and ${running.length} running requests, ${outbox} outbox items\n${histories.join("\n")}`,
        );
      }
      const busy = events + queued.length + running.length + outbox;
      quiet = busy === 0 ? quiet + 1 : 0;
      await new Promise((r) => setTimeout(r, 100));
    }

    t.diagnostic(
      `started in ${t1 - t0} ms, sent in ${t2 - t1} ms, settled ${Date.now() - t2} ms later`,
    );
    // Every acknowledged delivery stored once and processed.
    const events = await store.events.list();
    assert.deepEqual(
      events.map((e) => e.deliveryId).sort(),
      acked.map((d) => d.id).sort(),
      "each acknowledged delivery stored once",
    );
    for (const e of events) assert.equal(e.state, "done", `${e.deliveryId}: ${e.state}`);
    // How long each delivery took, from when it could start (arrived, and the one before it done).
    const rows = await store.db
      .selectFrom("events")
      .select(["name", "received_at", "finished_at"])
      .orderBy("seq")
      .execute();
    const took: Record<string, number[]> = {};
    let previous = 0;
    for (const r of rows) {
      took[r.name] = [...(took[r.name] ?? []), r.finished_at! - Math.max(previous, r.received_at)];
      previous = r.finished_at!;
    }
    for (const [name, ms] of Object.entries(took)) {
      ms.sort((x, y) => x - y);
      const mean = Math.round(ms.reduce((x, y) => x + y, 0) / ms.length);
      t.diagnostic(
        `${name}: ${ms.length}, mean ${mean} ms, p90 ${ms[Math.floor(ms.length * 0.9)]} ms`,
      );
    }

    // ...and processed once: each head requested its runs once (retries are later attempts).
    const requests = await store.db.selectFrom("run_requests").selectAll().execute();
    for (const pr of prs) {
      const member = MEMBERS.includes(pr.author);
      for (const sha of pr.heads) {
        const first = (kind: string) =>
          requests.filter((q) => q.head_sha === sha && q.kind === kind && q.attempt === 1).length;
        const what = `PR ${pr.number} (${pr.author}) head ${sha.slice(0, 7)}`;
        // A head pushed over before its delivery was processed may have been passed over.
        const once = (n: number, expected: number, why: string) =>
          sha === pr.headSha ? assert.equal(n, expected, why) : assert.ok(n <= expected, why);
        once(first(member ? "full" : "public"), 1, `${what}: its first run`);
        if (!member) once(first("restricted"), pr.approved.has(sha) ? 1 : 0, `${what}: approved`);
      }
      // Each stale approval was answered (a good one may be too: the head moved before it was
      // processed), and no reply was posted twice.
      const replies = world.gh.comments(REPO, pr.number).map((c) => c.body);
      const refused = replies.filter((b) =>
        /is not the head of this pull request|has not processed that push yet/.test(b),
      );
      assert.ok(refused.length >= pr.stale, `PR ${pr.number}: a reply to each stale approval`);
      assert.equal(new Set(replies).size, replies.length, `PR ${pr.number}: a reply posted twice`);
    }

    // No job attempt started twice: each job's log says it started once at most, and each
    // restricted job was released its secrets once at most.
    const jobs = await store.db
      .selectFrom("jobs")
      .select(["run_id", "job_id", "state"])
      .where("state", "not in", ["pending", "skipped"])
      .execute();
    const logs = path.join(world.dataDir, "logs");
    let started = 0;
    for (const j of jobs) {
      let log = "";
      try {
        log = readFileSync(path.join(logs, j.run_id, `${j.job_id}.log`), "utf8");
      } catch {}
      const starts = log.split(`${j.job_id} started`).length - 1;
      assert.ok(starts <= 1, `${j.run_id}/${j.job_id} started ${starts} times`);
      if (j.state === "passed") assert.equal(starts, 1, `${j.run_id}/${j.job_id} passed`);
      started += starts;
    }
    const perJob = new Map<string, number>();
    for (const r of await store.audit.list({ action: "release" })) {
      const k = `${r.runId}/${r.jobId}`;
      perJob.set(k, (perJob.get(k) ?? 0) + 1);
    }
    for (const [k, n] of perJob) assert.equal(n, 1, `${k} was released secrets ${n} times`);
    t.diagnostic(`${started} job starts; ${perJob.size} releases`);

    // No check run created twice; every check concluded; the gate right on every final head.
    assertNoCheckRunCreatedTwice(world.gh, REPO);
    const problems: string[] = [];
    for (const pr of prs) {
      const checks = world.checks(pr.headSha);
      const runs = requests.filter((q) => q.head_sha === pr.headSha).map((q) => q.id);
      const trusted = MEMBERS.includes(pr.author) || pr.approved.has(pr.headSha);
      const expected: Record<string, string | undefined> = trusted
        ? {
            "airlock/unit": "success",
            "airlock/functional": "success",
            "airlock/all-tests": "success",
          }
        : {
            "airlock/unit": "success",
            "airlock/functional": undefined,
            "airlock/approval": "action_required",
            // Waits for an approval.
            "airlock/all-tests": "in_progress",
          };
      const wrong = Object.entries(expected).filter(([name, want]) => checks[name] !== want);
      const leaked = !trusted && [...perJob.keys()].some((k) => runs.includes(k.split("/")[0]!));
      if (wrong.length > 0 || leaked) {
        const what = wrong.map(([name, want]) => `${name} is ${checks[name]}, not ${want}`);
        if (leaked) what.push("a secret was released");
        const history = await historyOf(store, world.gh, pr.number);
        problems.push(
          `PR ${pr.number} (${pr.author}) head ${pr.headSha.slice(0, 7)}: ${what.join("; ")}\n${history}`,
        );
      }
    }
    // Every check concluded, on every commit: a superseded head's gate too. Only the gate of a
    // final head waiting for an approval stays in progress (checked above).
    const prOf = new Map(prs.flatMap((pr) => pr.heads.map((h) => [h, pr] as const)));
    const waits = (sha: string) => {
      const pr = prOf.get(sha)!;
      return sha === pr.headSha && !MEMBERS.includes(pr.author) && !pr.approved.has(sha);
    };
    const open = world.gh
      .checkRuns(REPO)
      .filter(
        (c) => c.status !== "completed" && !(c.name === "airlock/all-tests" && waits(c.head_sha)),
      );
    for (const c of open) {
      const pr = prOf.get(c.head_sha)!;
      problems.push(
        `${c.name} on ${c.head_sha.slice(0, 7)} (PR ${pr.number}, ${pr.author}) never concluded: ${c.status}\n${await historyOf(store, world.gh, pr.number, c.head_sha)}`,
      );
    }
    assert.deepEqual(problems, [], "every check concluded, and the gate right on every final head");
    world.gh.assertNoViolations();
  }
}
