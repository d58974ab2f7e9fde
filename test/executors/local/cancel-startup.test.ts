// Cancelling or timing out a job while its sandbox is still starting must leave nothing behind.
// The dangerous moment is inside bubblewrap's set-up: its first child (the PID namespace's init)
// has already left bwrap's process group (--new-session) but has not yet tied its life to bwrap
// (--die-with-parent takes effect only once set-up is done). A kill that reaches only bwrap's
// process group then leaves the init alive, and it goes on to start the job.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { LocalExecutor } from "../../../src/executors/local/executor.js";
import type { JobResult } from "../../../src/executors/types.js";
import { job, makeRepo, processesWith, request, tempDir } from "./helpers.js";

const t = tempDir();
let repo: string;
let sha: string;
let executor: LocalExecutor;
const commit = () => ({ kind: "commit" as const, repoDir: repo, sha });
const RUN = `${process.pid}${Date.now() % 1e6}`;

before(async () => {
  ({ repo, sha } = makeRepo(t.dir, { "README.md": "hello\n" }));
  executor = new LocalExecutor({ tempDir: t.dir });
  // Warm up: the availability probe and the first checkout are not what is measured here.
  const c = request(commit(), job("true"));
  assert.equal((await executor.run(c.req)).status, "passed", c.text());
});
after(async () => {
  // Never leave a stray job behind, even when an assertion failed.
  for (const pid of processesWith(`.${RUN}`)) killQuietly(pid);
  for (const pid of processesWith(`sbx${RUN}`)) killQuietly(pid);
  await executor.close();
  t.cleanup();
});

function killQuietly(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {}
}

/**
 * A job that starts a background process in a session of its own (out of every process group
 * Airlock knows) and one that ignores polite signals, then sleeps. Every process it makes carries
 * `mark` in its command line; bwrap and the sandbox's init carry the job id (in the workspace
 * path of their arguments).
 */
function startupJob(n: number, over: { timeoutMs?: number } = {}) {
  const mark = `.${RUN}${String(n).padStart(3, "0")}`;
  const id = `sbx${RUN}-${n}`;
  const script = [
    `setsid sleep 900${mark} </dev/null >/dev/null 2>&1 &`,
    `(trap '' TERM HUP INT; exec sleep 901${mark}) </dev/null >/dev/null 2>&1 &`,
    `sleep 902${mark}`,
  ].join("\n");
  return { mark, id, c: request(commit(), job(script, { id, ...over })) };
}

/** Everything of job `id` still on the host: its bwrap, its sandbox's init, its processes. */
function leftovers(mark: string, id: string): number[] {
  return [...processesWith(mark), ...processesWith(`/${id}-`)];
}

async function workspacesLeft(): Promise<string[]> {
  return readdirSync(path.join(await executor.workspaceRoot(), "jobs"));
}

const read = (p: string): string => {
  try {
    return readFileSync(p, "utf8");
  } catch {
    return "";
  }
};
const childrenOf = (pid: number): number[] =>
  read(`/proc/${pid}/task/${pid}/children`).split(" ").filter(Boolean).map(Number);
/** The session id of `pid`, or null once it is gone. */
function sessionOf(pid: number): number | null {
  const st = read(`/proc/${pid}/stat`);
  if (!st) return null;
  // After "comm)": state, ppid, pgrp, session.
  return Number(st.slice(st.lastIndexOf(")") + 2).split(" ")[3]);
}
/** Blocks (on purpose: nothing else may run meanwhile) until `f()` or `ms` elapse. */
function spinUntil(f: () => boolean, ms: number): boolean {
  const until = performance.now() + ms;
  while (performance.now() < until) if (f()) return true;
  return false;
}

describe("cancel while the sandbox starts", () => {
  it("right after the sandbox's init leaves bwrap's session: nothing survives", async () => {
    let hitWindow = 0;
    for (let n = 0; n < 8; n++) {
      const { mark, id, c } = startupJob(n);
      const run = executor.run(c.req);
      // Find this job's bwrap among our children once it is spawned.
      let bwrap = 0;
      for (let i = 0; i < 5000 && !bwrap; i++) {
        bwrap = childrenOf(process.pid).find((p) => read(`/proc/${p}/cmdline`).includes(id)) ?? 0;
        if (!bwrap) await new Promise((r) => setImmediate(r));
      }
      assert.ok(bwrap, "bwrap was not seen starting");
      // Then watch its first child, without yielding, until that child calls setsid(); cancel at
      // once (or a few microseconds later): bwrap's status output is still unread by then.
      let init = 0;
      const inWindow = spinUntil(() => {
        init ||= childrenOf(bwrap)[0] ?? 0;
        return init !== 0 && sessionOf(init) === init;
      }, 3000);
      if (inWindow) hitWindow++;
      spinUntil(() => false, (n % 4) * 0.04);
      c.abort();
      const r = await run;
      assert.equal(r.status, "cancelled", `${r.error ?? ""}\n${c.text()}`);
      assert.ok(r.durationMs < 4000, `the cancel took ${r.durationMs} ms`);
      assert.deepEqual(leftovers(mark, id), [], `attempt ${n} left processes behind`);
    }
    assert.ok(hitWindow >= 4, `the set-up window was reached only ${hitWindow} times`);
    // A surviving init would start the job a little later: look again.
    await delay(300);
    assert.deepEqual(processesWith(`.${RUN}`), []);
    assert.deepEqual(await workspacesLeft(), []);
  });

  it("at many points of start-up, several at once, by cancel and by timeout", async () => {
    const cancelAt = [0, 1, 2, 3, 5, 7, 10, 15, 20, 25, 30, 40, 50, 60, 80, 100, 150, 200];
    const timeouts = [1, 3, 5, 10, 20, 40];
    const cases: { cancelAt?: number; timeoutMs?: number }[] = [
      ...cancelAt.map((ms) => ({ cancelAt: ms })),
      ...timeouts.map((ms) => ({ timeoutMs: ms })),
    ];
    const results: { n: number; r: JobResult; text: string; mark: string; id: string }[] = [];
    const parallel = 6;
    for (let b = 0; b < cases.length; b += parallel) {
      await Promise.all(
        cases.slice(b, b + parallel).map(async (k, i) => {
          const n = 100 + b + i;
          const { mark, id, c } = startupJob(n, { timeoutMs: k.timeoutMs ?? 30_000 });
          const run = executor.run(c.req);
          if (k.cancelAt !== undefined) setTimeout(() => c.abort(), k.cancelAt);
          results.push({ n, r: await run, text: c.text(), mark, id });
        }),
      );
    }
    for (const { n, r, text, mark, id } of results) {
      assert.ok(
        ["cancelled", "timed_out"].includes(r.status),
        `${n}: ${r.status} ${r.error ?? text}`,
      );
      assert.equal(r.error, undefined, `${n}: ${r.error}`);
      assert.deepEqual(leftovers(mark, id), [], `job ${n} (${r.status}) left processes behind`);
    }
    await delay(300);
    assert.deepEqual(processesWith(`.${RUN}`), []);
    assert.deepEqual(await workspacesLeft(), []);
  });
});
