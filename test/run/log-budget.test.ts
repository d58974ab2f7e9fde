// The log budget end to end, with real bubblewrap: a job printing 1 GiB stores exactly its budget
// (the notice last) while `airlock run` stays in constant memory, the result says so in the table
// and in --json; `airlock logs` streams a 1 GiB log in constant memory too.
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { readFileSync, statSync, truncateSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { show } from "../support/cli.js";
import { Project } from "../support/project.js";

const GiB = 1024 ** 3;
const BUDGET = 4 * 1024 ** 2;
// 100-byte lines, written as fast as the pipe takes them (yes ends on SIGPIPE: not a failure).
const print = (bytes: number) => `{ yes "$(printf '%099d' 0)" || true; } | head -c ${bytes}`;

const CONFIG = `version: 1
jobs:
  huge:
    run: ${JSON.stringify(print(GiB))}
    limits: { log: 4MiB }
  small:
    run: ${JSON.stringify(print(1024 ** 2))}
    limits: { log: 4MiB }
  over:
    run: ${JSON.stringify(print(5 * 1024 ** 2))}
    limits: { log: 4MiB }
`;

/** Peak resident memory (VmHWM) of a running process, in bytes; 0 once it is gone. */
function peakRss(pid: number): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Runs a CLI child to its end; returns its exit code, stdout byte count and peak memory. */
function measure(
  child: ChildProcess,
): Promise<{ code: number | null; bytes: number; peak: number; stdout: string; stderr: string }> {
  let peak = 0;
  let bytes = 0;
  let stdout = "";
  let stderr = "";
  const timer = setInterval(() => {
    peak = Math.max(peak, peakRss(child.pid!));
  }, 50);
  child.stdout!.on("data", (c: Buffer) => {
    bytes += c.length;
    if (stdout.length < 1 << 20) stdout += c.toString("utf8");
  });
  child.stderr!.on("data", (c: Buffer) => {
    stderr += c.toString("utf8");
  });
  return new Promise((resolve) => {
    child.on("exit", () => {
      peak = Math.max(peak, peakRss(child.pid!));
    });
    child.on("close", (code) => {
      clearInterval(timer);
      resolve({ code, bytes, peak, stdout, stderr });
    });
  });
}

const runIdOf = (stdout: string) => /^run (\S+) /m.exec(stdout)![1]!;
const MiB = (n: number) => `${(n / 1024 ** 2).toFixed(0)} MiB`;

describe("log budget", () => {
  let project: Project;
  before(() => {
    project = new Project({ files: { ".airlock.yml": CONFIG } });
  });
  after(() => project?.cleanup());

  test("a job printing 1 GiB stores exactly its budget and the notice, in constant memory", async () => {
    const small = await measure(project.spawn(["run", "--plain", "--job", "small"]));
    assert.equal(small.code, 0, small.stderr);
    const huge = await measure(project.spawn(["run", "--plain", "--job", "huge"]));
    assert.equal(huge.code, 0, huge.stderr);
    // The whole output passed through Airlock (read and redacted), yet its memory did not grow
    // with it: within 64 MiB of a run printing 1 MiB.
    assert.ok(
      huge.peak < small.peak + 64 * 1024 ** 2,
      `peak memory ${MiB(huge.peak)} printing 1 GiB, ${MiB(small.peak)} printing 1 MiB`,
    );
    // The terminal table says so.
    assert.match(
      huge.stdout,
      /^huge\s+passed\s+\S+\s+log truncated at 4 MiB: \d+ bytes not kept$/m,
    );

    const run = runIdOf(huge.stdout);
    const file = path.join(project.dataDir, "logs", run, "huge.log");
    assert.equal(statSync(file).size, BUDGET, "the stored log is exactly the budget");
    const text = readFileSync(file, "latin1");
    const m = /\nairlock: log truncated at 4 MiB: (\d+) bytes not kept\n$/.exec(text);
    assert.ok(m, text.slice(-300));
    const kept = text.slice(0, m.index);
    assert.match(kept, /^(0{99}\n)+0*$/, "what is kept is the job's output, from its start");
    assert.equal(Number(m[1]), GiB - kept.length, "every byte not kept is counted");
    const [job] = project.jobs(run);
    assert.equal(job!.state, "passed");
    assert.deepEqual(JSON.parse(job!.notes), [`log truncated at 4 MiB: ${m[1]} bytes not kept`]);

    // The small job's log is whole, with no notice.
    const smallLog = path.join(project.dataDir, "logs", runIdOf(small.stdout), "small.log");
    assert.equal(statSync(smallLog).size, 1024 ** 2);
  });

  test("--json gives the notice among the job's notes", async () => {
    const r = await project.cli(["run", "--json", "--job", "over"]);
    assert.equal(r.code, 0, show(r));
    const out = JSON.parse(r.stdout) as { jobs: { id: string; notes: string[] }[] };
    const over = 5 * 1024 ** 2;
    const [n] = out.jobs[0]!.notes;
    const dropped = Number(/^log truncated at 4 MiB: (\d+) bytes not kept$/.exec(n ?? "")?.[1]);
    // What was kept and the closing lines make up the budget exactly.
    assert.equal(over - dropped + "\nairlock: ".length + n!.length + 1, BUDGET);
  });

  test("airlock logs streams a 1 GiB log in constant memory", async () => {
    const r = await project.cli(["run", "--plain", "--job", "small"]);
    assert.equal(r.code, 0, show(r));
    const run = runIdOf(r.stdout);
    const file = path.join(project.dataDir, "logs", run, "small.log");
    const base = await measure(project.spawn(["logs", run, "small"]));
    assert.equal(base.code, 0, base.stderr);
    assert.equal(base.bytes, 1024 ** 2);
    // A 1 GiB log (sparse: the test spends no disk on it).
    truncateSync(file, GiB);
    const big = await measure(project.spawn(["logs", run, "small"]));
    assert.equal(big.code, 0, big.stderr);
    assert.equal(big.bytes, GiB, "every byte of the log was printed");
    // Constant: within 128 MiB of the small log's peak, where reading the log whole would take
    // 1 GiB. The margin is garbage the collector has not reclaimed yet (Node 24 keeps more).
    assert.ok(
      big.peak < base.peak + 128 * 1024 ** 2,
      `peak memory ${MiB(big.peak)} for 1 GiB, ${MiB(base.peak)} for 1 MiB`,
    );
  });
});
