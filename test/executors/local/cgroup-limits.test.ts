// Job limits with real bubblewrap and this machine's real cgroups (v1 here): memory, processes,
// CPU, $HOME and /tmp sizes, the workspace's disk budget, and leftovers. Each job gets a cgroup
// of its own (named after this process), removed when it ends.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { cgroupsHere } from "../../../src/executors/local/bounds.js";
import { LocalExecutor } from "../../../src/executors/local/executor.js";
import type { JobLimits, JobResult } from "../../../src/executors/types.js";
import { job, makeRepo, processesWith, request, tempDir, token } from "./helpers.js";

const tmp = tempDir();
let checkout: { kind: "commit"; repoDir: string; sha: string };
const sandboxed = new LocalExecutor();
const unsandboxed = new LocalExecutor({ sandbox: false });
const MiB = 1024 ** 2;

before(() => {
  const { repo, sha } = makeRepo(tmp.dir, { "README.md": "hello\n" });
  checkout = { kind: "commit", repoDir: repo, sha };
});
after(async () => {
  await sandboxed.close();
  await unsandboxed.close();
  tmp.cleanup();
});

async function run(
  ex: LocalExecutor,
  script: string,
  limits: JobLimits,
  over: { timeoutMs?: number; secrets?: string[] } = {},
): Promise<{ r: JobResult; out: string }> {
  const c = request(checkout, job(script, { limits, ...over }));
  const r = await ex.run(c.req);
  return { r, out: c.text() };
}

/** Job cgroups of this process still present (there must be none once a job ended). */
async function ownCgroups(): Promise<string[]> {
  const p = await cgroupsHere();
  assert.ok(p.ok, p.message);
  const left: string[] = [];
  for (const dir of new Set(Object.values(p.host.parents))) {
    try {
      left.push(...readdirSync(dir).filter((n) => n.startsWith(`${process.pid}-`)));
    } catch {
      // The parent is gone: no job cgroup left in it.
    }
  }
  return left;
}

describe("cgroup limits (real cgroups)", () => {
  it("this machine has usable cgroups", async () => {
    const p = await cgroupsHere();
    assert.ok(p.ok, p.message);
  });

  it("a job allocating past its memory limit is killed, and the result says why", async () => {
    const { r, out } = await run(
      sandboxed,
      // biome-ignore lint/suspicious/noTemplateCurlyInString: shell syntax
      "x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo \"allocated ${#x}\"",
      { memoryBytes: 64 * MiB },
    );
    assert.equal(r.status, "failed", out);
    assert.doesNotMatch(out, /allocated/);
    // (The pipe's processes may still be there when the shell is killed: counted as leftovers.)
    assert.equal(r.notes?.[0], "killed: out of memory (limit 64 MiB)");
    assert.deepEqual(await ownCgroups(), []);
  });

  it("the same job within its limit passes", async () => {
    const { r, out } = await run(
      sandboxed,
      // biome-ignore lint/suspicious/noTemplateCurlyInString: shell syntax
      "x=$(head -c 2000000 /dev/zero | tr '\\0' a); echo \"allocated ${#x}\"",
      { memoryBytes: 64 * MiB },
    );
    assert.equal(r.status, "passed", out);
    assert.match(out, /allocated 2000000/);
    assert.deepEqual(r.notes ?? [], []);
  });

  for (const [mode, ex] of [
    ["sandboxed", sandboxed],
    ["--no-sandbox", unsandboxed],
  ] as const) {
    it(`a fork loop stops at the process limit; the host is unaffected (${mode})`, async () => {
      const tok = token().replace(/[a-f]/g, "").slice(0, 6) || "7";
      const marker = `1000.${tok}9`;
      // At its limit the job can start nothing more: it counts the loop's processes with shell
      // builtins, its sleeps and, on a busy machine, children forked that have not yet become
      // sleeps (they still carry the loop's command line, its $0 named for the marker).
      const script = [
        `sh -c 'i=0; while [ $i -lt 200 ]; do sleep ${marker} & i=$((i+1)); done' loop-${marker} || echo refused`,
        "n=0",
        // A process gone since the glob leaves `read` unrun: the last one's values must not count.
        "for f in /proc/[0-9]*/cmdline; do",
        "  a= b= c= d=",
        "  { read -r -d '' a; read -r -d '' b; read -r -d '' c; read -r -d '' d; } <\"$f\" 2>/dev/null || true",
        `  if [ "$b" = ${marker} ] || [ "$d" = loop-${marker} ]; then n=$((n + 1)); fi`,
        "done",
        'echo "sleeping $n"',
        "exit 3",
      ].join("\n");
      const c = request(checkout, job(script, { limits: { processes: 64 } }));
      const running = ex.run(c.req);
      await c.waitFor("refused");
      // While the job sits at its limit, the host still starts processes.
      assert.equal(spawnSync("true").status, 0);
      const r = await running;
      const inJob = Number(/^sleeping (\d+)$/m.exec(c.text())?.[1]);
      assert.ok(inJob > 10 && inJob <= 64, `${inJob} processes of the job:\n${c.text()}`);
      assert.equal(r.status, "failed", c.text());
      assert.match(c.text(), /[Cc]an(no|')t fork|Resource temporarily unavailable/);
      assert.equal(r.notes?.[0], "could not start a process: process limit 64 reached");
      assert.match(
        r.notes?.[1] ?? "",
        /^\d+ processes left running in the background were stopped$/,
      );
      assert.deepEqual(processesWith(marker), [], "every process of the job is gone");
      assert.deepEqual(await ownCgroups(), []);
    });
  }

  it("a CPU-bound job under a quota of 0.25 CPU gets at most its share", async (t) => {
    // The job measures its own CPU time (`times`) and the time it took: under a quota of 0.25
    // CPU, each CPU second costs at least four seconds, whatever else the machine does.
    const script = [
      "t0=$EPOCHREALTIME",
      "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done",
      "t1=$EPOCHREALTIME",
      "times",
      'echo "wall $t0 $t1"',
    ].join("\n");
    const { r, out } = await run(sandboxed, script, { cpus: 0.25 }, { timeoutMs: 120_000 });
    assert.equal(r.status, "passed", out);
    const sec = (m: RegExpMatchArray) => Number(m[1]) * 60 + Number(m[2]);
    const [user, sys] = [...out.matchAll(/(\d+)m([\d.]+)s/g)].slice(0, 2).map(sec);
    const w = /^wall ([\d.]+) ([\d.]+)$/m.exec(out)!;
    const cpu = user! + sys!;
    const wall = Number(w[2]) - Number(w[1]);
    t.diagnostic(`${cpu.toFixed(2)}s of CPU in ${wall.toFixed(2)}s under a quota of 0.25 CPU`);
    assert.ok(cpu > 0.2, `enough work to measure (${cpu}s of CPU)`);
    // One 100 ms period of slack: the quota is enforced per period.
    assert.ok(cpu <= 0.25 * wall + 0.1, `${cpu.toFixed(2)}s of CPU in ${wall.toFixed(2)}s`);
  });

  it("$HOME and /tmp refuse writes past their sizes", async () => {
    const script = [
      "dd if=/dev/zero of=$HOME/big bs=1M count=3 2>&1 || echo home-full",
      "dd if=/dev/zero of=/tmp/big bs=1M count=3 2>&1 || echo tmp-full",
      "rm $HOME/big",
      "dd if=/dev/zero of=$HOME/small bs=1k count=100 2>/dev/null && echo home-ok",
    ].join("\n");
    const { r, out } = await run(sandboxed, script, { tmpBytes: 2 * MiB, homeBytes: 1 * MiB });
    assert.equal(r.status, "passed", out);
    assert.match(out, /^home-full$/m);
    assert.match(out, /^tmp-full$/m);
    assert.match(out, /No space left on device/);
    assert.match(out, /^home-ok$/m);
  });

  for (const [mode, ex] of [
    ["sandboxed", sandboxed],
    ["--no-sandbox", unsandboxed],
  ] as const) {
    it(`the workspace's disk budget stops a job that grows past it (${mode})`, async () => {
      const { r, out } = await run(
        ex,
        "head -c 40000000 /dev/zero > big\nsleep 60\necho never",
        { diskBytes: 8 * MiB },
        { timeoutMs: 120_000 },
      );
      // The budget is measured while the job runs: on a busy machine it may stop the job while
      // `head` is still writing, so nothing but the end is asserted of its output.
      assert.equal(r.status, "failed", out);
      assert.doesNotMatch(out, /never/);
      assert.match(
        r.notes?.[0] ?? "",
        /^killed: the workspace used [\d.]+ MiB, past its disk budget of 8 MiB$/,
      );
    });

    it(`processes left in the background are stopped and counted (${mode})`, async () => {
      const tok = String(Date.now() % 1e6);
      const { r, out } = await run(ex, `sleep 1000.${tok}1 &\nsleep 1000.${tok}2 &\necho started`, {
        processes: 64,
      });
      assert.equal(r.status, "passed", out);
      assert.deepEqual(r.notes, ["2 processes left running in the background were stopped"]);
      assert.deepEqual(processesWith(`1000.${tok}`), []);
    });
  }
});

describe("without cgroups", () => {
  const none = async () => ({ ok: false as const, version: null, message: "no cgroup here" });

  it("airlock serve's executor refuses public jobs, naming the switch; restricted ones run", async () => {
    const ex = new LocalExecutor({ cgroups: none, requireCgroups: true });
    try {
      const pub = await run(ex, "echo ran", { memoryBytes: 64 * MiB, processes: 64 });
      assert.equal(pub.r.status, "error");
      assert.match(
        pub.r.error ?? "",
        /public jobs do not run here without memory and process limits: no cgroup here/,
      );
      assert.match(pub.r.error ?? "", /limits\.allow_unlimited_public_jobs: true/);
      assert.doesNotMatch(pub.out, /ran/);
      const restricted = await run(ex, "echo ran", { memoryBytes: 64 * MiB }, { secrets: ["s"] });
      assert.equal(restricted.r.status, "passed", restricted.out);
      assert.match(restricted.out, /no memory, process or CPU limit for this job: no cgroup here/);
    } finally {
      await ex.close();
    }
  });

  it("elsewhere a job runs, its log saying it has no such limits", async () => {
    const ex = new LocalExecutor({ cgroups: none });
    try {
      const { r, out } = await run(ex, "echo ran", { memoryBytes: 64 * MiB });
      assert.equal(r.status, "passed", out);
      assert.match(out, /^airlock: no memory, process or CPU limit for this job: no cgroup here$/m);
      assert.match(out, /^ran$/m);
    } finally {
      await ex.close();
    }
  });
});
