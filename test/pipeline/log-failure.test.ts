// A job whose log cannot be written (the kernel answers ENOSPC: the log is /dev/full here) fails
// with that reason instead of ending the process; it is stopped, and the other jobs of the run
// still run and end. Real bubblewrap, real SQLite.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { createRunnerDeps } from "../../src/cli/runner-deps.js";
import { parseConfig } from "../../src/config/loader.js";
import { planRequest } from "../../src/gateway/decide.js";
import { executeRun } from "../../src/pipeline/runner.js";
import { openStore } from "../../src/store/index.js";
import { LogWriter, type LogWriterOptions } from "../../src/store/log-writer.js";
import { LogStore } from "../../src/store/logs.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "airlock-logfail-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Logs as usual, except the named job's, which goes to /dev/full. */
class FullDiskFor extends LogStore {
  constructor(
    dataDir: string,
    private readonly jobId: string,
  ) {
    super(dataDir);
  }
  override writer(runId: string, jobId: string, opts: LogWriterOptions = {}): LogWriter {
    return jobId === this.jobId
      ? new LogWriter("/dev/full", opts)
      : super.writer(runId, jobId, opts);
  }
}

test("a job whose log write fails with ENOSPC fails with that reason; the run goes on", async () => {
  const db = await openStore({ dataDir: path.join(dir, "data") });
  const runs = db.runs;
  const config = parseConfig(
    `version: 1
jobs:
  chatty:
    run: |
      i=0; while [ $i -lt 2000 ]; do echo "line $i"; i=$((i+1)); done
      sleep 30
  quiet:
    run: echo fine
`,
    ".airlock.yml",
  );
  const { plan } = planRequest(config, "full", null, true);
  const built = await createRunnerDeps({
    store: db,
    dataDir: path.join(dir, "data"),
    config,
    sandbox: true,
    logs: new FullDiskFor(path.join(dir, "data"), "chatty"),
    jobs: plan.jobs,
  });
  try {
    await executeRun(built.runner, {
      runId: "run-full",
      source: "local",
      repo: "acme/app",
      ref: null,
      sha: "0".repeat(40),
      checkout: { kind: "dirty", dir, includeIgnored: true },
      plan,
      concurrency: 2,
    });
  } finally {
    await built.close();
  }
  const jobs = new Map((await runs.jobs("run-full")).map((j) => [j.job_id, j]));
  assert.equal(jobs.get("chatty")?.state, "error");
  assert.match(
    jobs.get("chatty")?.error ?? "",
    /^the job's log could not be written \(ENOSPC: no space left on device, write\): the job was stopped$/,
  );
  assert.equal(jobs.get("quiet")?.state, "passed");
  assert.equal((await runs.get("run-full"))?.status, "error", "an error, not a test failure");
  await db.close();
});
