// SandboxInit against real PID namespaces made with unshare(1): killing the init ends every
// process in the namespace (setsid or not), a kill asked for early lands once the init is known,
// a pid outside the namespace is never signalled, and survivors are reported, not ignored.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync, readlinkSync } from "node:fs";
import { after, describe, it } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { SandboxInit } from "../../../src/executors/local/pidns.js";
import { PATIENCE_MS } from "../../support/patience.js";
import { processesWith } from "./helpers.js";

const spawned: ChildProcess[] = [];
after(() => {
  for (const c of spawned) if (c.pid) killQuietly(c.pid);
});

let serial = 0;
/** A number unique to this test process and call, used in the sleepers' arguments. */
const newMark = () => `${process.pid}${Date.now() % 1e6}${serial++}`;
/** The namespace's sleepers (their own argv, not the shell's that started them). */
const sleepers = (mark: string): number[] => [
  ...processesWith(`sleep\x00300.${mark}\x00`),
  ...processesWith(`sleep\x00301.${mark}\x00`),
];

function killQuietly(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {}
}

/** A new PID namespace whose init starts a background process and a setsid one, then waits. */
async function namespace(mark: string): Promise<{ init: number; ns: string }> {
  const script = `sleep 300.${mark} & setsid sleep 301.${mark} & wait`;
  const c = spawn("unshare", ["--user", "--map-root-user", "--pid", "--fork", "sh", "-c", script], {
    stdio: "ignore",
  });
  spawned.push(c);
  const until = Date.now() + PATIENCE_MS;
  while (sleepers(mark).length < 2) {
    assert.ok(Date.now() < until, "the namespace did not start");
    await delay(10);
  }
  const pid = c.pid!;
  const init = Number(readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim());
  return { init, ns: readlinkSync(`/proc/${init}/ns/pid`) };
}

const status = (pid: number, ns: string) =>
  `{ "child-pid": ${pid}, "pid-namespace": ${/\d+/.exec(ns)![0]} }\n`;

describe("SandboxInit", () => {
  it("kills the whole namespace, setsid processes included", async () => {
    const mark = newMark();
    const { init, ns } = await namespace(mark);
    const s = new SandboxInit();
    s.learn(status(init, ns));
    assert.equal(s.pid, init);
    s.kill();
    assert.deepEqual(await s.waitGone(5000, { confirm: true }), []);
    assert.deepEqual(sleepers(mark), []);
  });

  it("holds a kill asked for before the init is known, and delivers it once it is", async () => {
    const mark = newMark();
    const { init, ns } = await namespace(mark);
    const s = new SandboxInit();
    s.kill();
    s.learn(status(init, ns).slice(0, 10)); // a partial line: not yet
    assert.equal(s.pid, null);
    // bwrap writes the pid first: a read may end inside it, and a cut-off pid names another
    // process (a host one), never to be taken for the init.
    s.learn(`{ "child-pid": ${init}`.slice(0, -1));
    s.learn(`{ "child-pid": ${init}, "pid-namespace": ${/\d+/.exec(ns)![0]}`);
    assert.equal(s.pid, null);
    assert.equal(sleepers(mark).length, 2);
    s.learn(status(init, ns));
    assert.deepEqual(await s.waitGone(5000, { confirm: true }), []);
    assert.deepEqual(sleepers(mark), []);
  });

  it("learns the namespace itself when bwrap does not name it", async () => {
    const mark = newMark();
    const { init } = await namespace(mark);
    const s = new SandboxInit();
    s.learn(`{ "child-pid": ${init} }\n`);
    s.kill();
    assert.deepEqual(await s.waitGone(5000, { confirm: true }), []);
    assert.deepEqual(sleepers(mark), []);
  });

  it("never signals a pid that is not in the sandbox's namespace (a reused pid)", async () => {
    const mark = newMark();
    const { init, ns } = await namespace(mark);
    const bystander = spawn("sleep", [`302.${mark}`], { stdio: "ignore" });
    spawned.push(bystander);
    const s = new SandboxInit();
    s.learn(status(bystander.pid!, ns)); // the namespace's id, but another process
    s.kill();
    assert.deepEqual(await s.waitGone(200), []);
    assert.equal(processesWith(`sleep\x00302.${mark}`).length, 1, "the bystander was killed");
    killQuietly(init);
  });

  it("never takes Airlock's own namespace for a sandbox's, so no host process is signalled", async () => {
    const mark = newMark();
    const host = spawn("sleep", [`303.${mark}`], { stdio: "ignore" });
    spawned.push(host);
    // A status naming a host process and the host's namespace (a misread, or a bwrap that did
    // not unshare) must not become the init. Checked without kill(): were it taken, a kill here
    // would signal the host's processes; waitGone only reads /proc and reports them.
    const s = new SandboxInit();
    s.learn(status(host.pid!, readlinkSync("/proc/self/ns/pid")));
    assert.deepEqual(await s.waitGone(200), []);
    assert.equal(processesWith(`sleep\x00303.${mark}`).length, 1, "a host process was killed");
  });

  it("reports what is still running when the namespace does not empty in time", async () => {
    const mark = newMark();
    const { init, ns } = await namespace(mark);
    const s = new SandboxInit();
    s.learn(status(init, ns));
    // Not killed: stands for a process SIGKILL cannot end (stuck in the kernel).
    const left = await s.waitGone(50, { confirm: true });
    assert.equal(left[0], init);
    assert.deepEqual(
      [...left].sort((a, b) => a - b),
      [init, ...sleepers(mark)].sort((a, b) => a - b),
    );
    s.kill();
    assert.deepEqual(await s.waitGone(5000, { confirm: true }), []);
  });
});
