// A shutdown of Airlock is not a cancel: the GitLab executor stops following the pipeline and
// leaves it running, and a later attempt of the run adopts it; any other abort cancels it. A
// shutdown spends none of a request's attempts. `poll_interval` sets how often GitLab is asked.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { PassThrough } from "node:stream";
import { describe, it } from "node:test";
import { parseConfig } from "../../../src/config/loader.js";
import { ShutdownAbort } from "../../../src/executors/abort.js";
import { runAttempt } from "../../../src/executors/attempt.js";
import type { RestrictedRunRequest } from "../../../src/executors/gitlab/index.js";
import { GitLabExecutor } from "../../../src/executors/gitlab/index.js";
import { createRedactor } from "../../../src/redact/redactor.js";
import type { ScriptStep } from "./double.js";
import { runRequest, useGitLabDouble, withRequestStore } from "./fixture.js";

const TRIGGER = "glptt-shutdown-9a8b7c";
const API = "glpat-shutdown-6d5e4f";
const SHA = "7ab1e5c0ffee4c8300dd08aeb37f8e728b8dad01";
const RUNNING: ScriptStep = {
  status: "running",
  jobs: [
    { name: "aws-infra", status: "running" },
    { name: "do-managed", status: "running" },
  ],
};
const DONE: ScriptStep = {
  status: "success",
  jobs: [
    { name: "aws-infra", status: "success", duration: 3 },
    { name: "do-managed", status: "success", duration: 2 },
  ],
};
const f = useGitLabDouble({ trigger: TRIGGER, api: API, sha: SHA, script: () => [RUNNING] });
const executor = () => f.executor({ attempts: 2, poll: { initialMs: 5, maxMs: 20 } });
const request = (signal: AbortSignal, over: Partial<RestrictedRunRequest> = {}) =>
  f.request({ signal, ...over });

/** Runs the executor until the pipeline was seen running, then aborts with `reason`. */
async function abortWhileRunning(reason: unknown, over: Partial<RestrictedRunRequest> = {}) {
  const ctrl = new AbortController();
  const req = request(ctrl.signal, over);
  const result = executor().runRestricted({
    ...req,
    onUpdate: ({ pipeline }) => {
      if (pipeline.status === "running") ctrl.abort(reason);
    },
  });
  return { req, result: await result };
}

const pipelineGets = (id: number) =>
  f.gl.requests.filter((r) => r.method === "GET" && r.path.endsWith(`/pipelines/${id}`));

describe("a shutdown while the GitLab pipeline runs", () => {
  it("leaves the pipeline running and says so; a later attempt adopts it and gets its result", async () => {
    const { req, result } = await abortWhileRunning(new ShutdownAbort());
    const id = f.gl.triggers[0]!.pipelineId;
    assert.equal(result.detached, true);
    assert.equal(result.pipeline?.id, id);
    assert.deepEqual(f.gl.cancels, [], "no cancel was sent");
    assert.equal(f.gl.pipeline(id)!.cancelled, false);
    assert.equal(result.status, "cancelled", "the run's own part ended here");
    assert.match(result.error ?? "", /left running/);
    assert.match(result.jobs["aws-infra"]?.error ?? "", /left running/);

    // The next attempt (a new run id) finds it by the earlier run's id, and follows it to its end.
    f.gl.finish(id, DONE);
    const again = await executor().runRestricted(
      request(new AbortController().signal, { earlierRunIds: [req.runId] }),
    );
    assert.equal(f.gl.triggers.length, 1, "no second pipeline");
    assert.equal(again.pipeline?.id, id);
    assert.equal(again.status, "passed", again.error);
    assert.equal(again.jobs["do-managed"]?.status, "passed");
    assert.deepEqual(f.gl.cancels, []);
    assert.deepEqual(f.gl.violations, []);
  });

  it("any other abort cancels the pipeline and names its reason", async () => {
    const { result } = await abortWhileRunning("cancelled by alice");
    const id = f.gl.triggers[0]!.pipelineId;
    assert.deepEqual(f.gl.cancels, [id]);
    assert.equal(result.detached, undefined);
    assert.equal(result.status, "cancelled");
    assert.match(result.error ?? "", /was cancelled \(cancelled by alice\)/);
  });

  it("a plain abort (Ctrl-C on airlock run) cancels it too", async () => {
    const { result } = await abortWhileRunning(undefined);
    assert.deepEqual(f.gl.cancels, [f.gl.triggers[0]!.pipelineId]);
    assert.equal(result.detached, undefined);
  });
});

describe("attempts of a run request", () => {
  it("a shutdown spends none; a crash or a failure spends one", async () => {
    await withRequestStore(async (store) => {
      await store.insert({ ...runRequest(5, SHA), id: "a1" });
      assert.equal(await store.attemptsSpent((await store.get("a1"))!), 1);
      const why = "interrupted by a shutdown";
      await store.requeue((await store.get("a1"))!, "a2", Date.now(), why, "shutdown");
      await store.requeue((await store.get("a2"))!, "a3", Date.now(), why, "shutdown");
      assert.equal((await store.get("a3"))!.attempt, 3);
      assert.equal(
        await store.attemptsSpent((await store.get("a3"))!),
        1,
        "two shutdowns spent nothing",
      );
      await store.requeue((await store.get("a3"))!, "a4");
      assert.equal(
        await store.attemptsSpent((await store.get("a4"))!),
        2,
        "a crash spends an attempt",
      );
      assert.deepEqual(await store.earlierAttempts((await store.get("a4"))!), ["a1", "a2", "a3"]);
    });
  });
});

const CONFIG = (gitlab: string) => `version: 1
secrets:
  gitlab-ci: {}
executor:
  gitlab:
    url: https://gitlab.example.com
    project: team/functional-tests
    secrets: gitlab-ci
${gitlab}jobs:
  t:
    run: "true"
`;

describe("executor.gitlab.poll_interval", () => {
  it("defaults to 5s and takes durations from 1s to 5m", () => {
    assert.equal(parseConfig(CONFIG(""), "a.yml").executor?.gitlab?.poll_interval, "5s");
    for (const d of ["1s", "30s", "2m", "5m"]) {
      const c = parseConfig(CONFIG(`    poll_interval: ${d}\n`), "a.yml");
      assert.equal(c.executor?.gitlab?.poll_interval, d);
    }
  });

  it("refuses an interval out of bounds or not a duration, naming the field and the bounds", () => {
    for (const d of ["0s", "5m1s", "1h", "500ms", "soon", '""']) {
      assert.throws(
        () => parseConfig(CONFIG(`    poll_interval: ${d}\n`), "a.yml"),
        (e: Error) =>
          /poll_interval/.test(e.message) &&
          /poll interval must be (between 1s and 5m|a duration such as 5s)/.test(e.message),
        d,
      );
    }
  });

  it("sets how often the pipeline is polled", async () => {
    const data = mkdtempSync(path.join(os.tmpdir(), "airlock-gitlab-poll-"));
    f.gl.script = [RUNNING, RUNNING, DONE];
    const config = parseConfig(CONFIG(`    poll_interval: 1s\n`), "a.yml").executor!.gitlab!;
    const job = {
      id: "aws-infra",
      run: "",
      secrets: ["cloud"],
      timeoutMs: 60_000,
      network: false,
      reports: [],
    };
    const { runId, repo, branch, sha, approver, labels, signal } = request(
      new AbortController().signal,
    );
    const run = await new GitLabExecutor({
      config: { ...config, url: f.gl.url },
      dataDir: data,
    }).prepare({
      runId,
      repo,
      branch,
      sha,
      approver,
      labels,
      signal,
      jobs: [job, { ...job, id: "do-managed" }],
      grantSet: async (set) => ({
        set,
        env: { GITLAB_TRIGGER_TOKEN: TRIGGER, GITLAB_API_TOKEN: API },
        files: [],
        mask: [],
        versions: {},
        notes: [],
        release: async () => {},
      }),
      createRedactor: (values) => createRedactor({ secrets: values }),
    });
    try {
      const output = new PassThrough();
      output.resume();
      const result = await runAttempt(
        run,
        {
          runId: "run-poll",
          job,
          checkout: { kind: "dirty", dir: data },
          env: {},
          secretEnv: {},
          secretFiles: [],
          mounts: [],
        },
        { output, signal: new AbortController().signal },
      );
      assert.equal(result.status, "passed", result.error);
      const gets = pipelineGets(f.gl.triggers[0]!.pipelineId).map((r) => r.at);
      assert.equal(gets.length, 3);
      // Running, then 1s later running again (the default would wait 5s), then the end.
      const gap = gets[1]! - gets[0]!;
      assert.ok(gap >= 950 && gap < 4_000, `polled again after ${gap} ms`);
    } finally {
      await run.close();
      rmSync(data, { recursive: true, force: true });
    }
  });
});
