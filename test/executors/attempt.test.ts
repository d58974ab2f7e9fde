// The executor lifecycle as the runner drives it: start, logs and wait together, reports,
// destroy whatever happened, cancel on abort with its reason; and the adapter for executors that
// run a job in one call.
import assert from "node:assert/strict";
import { PassThrough, type Writable } from "node:stream";
import { describe, it } from "node:test";
import { ShutdownAbort } from "../../src/executors/abort.js";
import { attemptOf, runAttempt } from "../../src/executors/attempt.js";
import type { JobAttempt, JobEnd, JobRequest, PreparedRun } from "../../src/executors/types.js";

const REQ: JobRequest = {
  runId: "run-1",
  job: { id: "unit", run: "true", secrets: [], timeoutMs: 60_000, network: false, reports: [] },
  checkout: { kind: "dirty", dir: "/nonexistent" },
  env: {},
  secretEnv: {},
  secretFiles: [],
  mounts: [],
};

function sink(): { out: Writable; text: () => string } {
  const out = new PassThrough();
  let text = "";
  out.on("data", (c: Buffer) => {
    text += c.toString();
  });
  return { out, text: () => text };
}

/** An attempt whose end the test decides, recording every call made to it. */
function scripted() {
  const calls: string[] = [];
  let end!: (e: JobEnd) => void;
  const ended = new Promise<JobEnd>((r) => {
    end = r;
  });
  const attempt: JobAttempt = {
    adopted: false,
    logs: async (o) => {
      calls.push("logs");
      o.write("line 1\n");
      await ended;
      o.write("line 2\n");
    },
    wait: () => {
      calls.push("wait");
      return ended;
    },
    reports: async () => {
      calls.push("reports");
      return [{ path: "r.xml", content: "<testsuite/>" }];
    },
    cancel: async (reason) => {
      calls.push(`cancel:${reason instanceof ShutdownAbort ? "shutdown" : String(reason)}`);
      end({ status: "cancelled", exitCode: null });
    },
    destroy: async () => {
      calls.push("destroy");
    },
  };
  const run: PreparedRun = { start: async () => attempt, close: async () => {} };
  return { run, calls, end };
}

describe("runAttempt", () => {
  it("streams the logs, waits, collects reports and destroys the attempt", async () => {
    const s = scripted();
    const { out, text } = sink();
    const p = runAttempt(s.run, REQ, { output: out, signal: new AbortController().signal });
    await new Promise((r) => setImmediate(r));
    s.end({ status: "passed", exitCode: 0 });
    const r = await p;
    assert.equal(r.status, "passed");
    assert.deepEqual(r.reports, [{ path: "r.xml", content: "<testsuite/>" }]);
    assert.equal(text(), "line 1\nline 2\n");
    assert.deepEqual(s.calls, ["wait", "logs", "reports", "destroy"]);
  });

  it("an abort cancels the attempt with its reason, and it is still destroyed", async () => {
    const s = scripted();
    const ctl = new AbortController();
    const p = runAttempt(s.run, REQ, { output: sink().out, signal: ctl.signal });
    await new Promise((r) => setImmediate(r));
    ctl.abort(new ShutdownAbort());
    const r = await p;
    assert.equal(r.status, "cancelled");
    assert.ok(s.calls.includes("cancel:shutdown"), s.calls.join());
    assert.equal(s.calls.at(-1), "destroy");
  });

  it("a start that fails is an error result whose reason is also in the job's log", async () => {
    const run: PreparedRun = {
      start: async () => {
        throw new Error("the namespace ci-public does not exist: create it");
      },
      close: async () => {},
    };
    const { out, text } = sink();
    const r = await runAttempt(run, REQ, { output: out, signal: new AbortController().signal });
    assert.equal(r.status, "error");
    assert.equal(r.error, "the namespace ci-public does not exist: create it");
    assert.match(text(), /^airlock: the namespace ci-public does not exist/);
  });

  it("nothing starts once the job is cancelled", async () => {
    let started = false;
    const run: PreparedRun = {
      start: async () => {
        started = true;
        throw new Error("unreachable");
      },
      close: async () => {},
    };
    const ctl = new AbortController();
    ctl.abort();
    const r = await runAttempt(run, REQ, { output: sink().out, signal: ctl.signal });
    assert.equal(r.status, "cancelled");
    assert.equal(started, false);
  });
});

describe("attemptOf", () => {
  it("passes the job's output through and turns its signal into cancel", async () => {
    let seen: AbortSignal | undefined;
    const attempt = attemptOf(async (req) => {
      seen = req.signal;
      req.output.write("hello\n");
      await new Promise((r) => req.signal.addEventListener("abort", r, { once: true }));
      return { status: "cancelled", exitCode: null, durationMs: 5, reports: [] };
    }, REQ);
    const { out, text } = sink();
    const logs = attempt.logs(out);
    await attempt.cancel("a newer push");
    await logs;
    const end = await attempt.wait();
    assert.equal(end.status, "cancelled");
    assert.equal(seen?.reason, "a newer push");
    assert.equal(text(), "hello\n");
  });

  it("a function that throws ends in error, never in a rejection", async () => {
    const attempt = attemptOf(async () => {
      throw new Error("boom");
    }, REQ);
    await attempt.logs(sink().out);
    const end = await attempt.wait();
    assert.equal(end.status, "error");
    assert.match(end.error ?? "", /boom/);
    assert.deepEqual(await attempt.reports(), []);
  });
});
