// The Kubernetes executor end to end against the double: the pod downloads the exact commit
// from the job API, runs for real in a bubblewrap sandbox, its log is followed (across dropped
// connections, neither losing nor repeating a line), its reports come back, a restricted job
// gets exactly its secrets, and every way a pod can fail ends with its own reason.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ShutdownAbort } from "../../../src/executors/abort.js";
import { KubernetesExecutor } from "../../../src/executors/kubernetes/executor.js";
import { jobName } from "../../../src/executors/kubernetes/manifests.js";
import {
  jobRequest,
  type KubeWorld,
  kubeConfig,
  kubeWorld,
  runContext,
  runJob,
  spec,
  until,
} from "./world.js";

let w: KubeWorld;
before(async () => {
  w = await kubeWorld({
    "README.md": "hello from the commit\n",
    "app/test.sh": "echo running in $(pwd)\n",
  });
});
after(() => w.close());

const noProblems = () => assert.deepEqual(w.k8s.problems, [], "every request matched the API");

describe("Kubernetes executor", () => {
  it("runs a public job as a Job whose pod fetches the commit, and follows its log", async () => {
    const job = spec(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: shell text, not a template
      'cat README.md; bash app/test.sh; echo "sha=$AIRLOCK_SHA"; test -z "${GITHUB_TOKEN:-}"',
    );
    const run = await w.executor.prepare(runContext(w, [job]));
    const { result, log } = await runJob(run, jobRequest(w, job));
    assert.equal(result.status, "passed", log + (result.error ?? ""));
    assert.match(log, /hello from the commit/);
    assert.match(log, /running in \/workspace/);
    assert.match(log, new RegExp(`sha=${w.sha}`));
    const name = jobName("run-1", "unit");
    const created = w.k8s.requests.find((r) => r.operation === "BatchV1Api.createNamespacedJob");
    const body = created?.body as {
      spec: Record<string, unknown>;
      metadata: { labels: Record<string, string> };
    };
    assert.equal(body.spec.backoffLimit, 0);
    assert.equal(body.spec.activeDeadlineSeconds, 60);
    assert.equal(body.spec.ttlSecondsAfterFinished, 600);
    assert.equal(body.metadata.labels["airlock.dev/run"], "run-1");
    assert.ok(w.k8s.jobs.has(name));
    noProblems();
  });

  it("reports a failing job's exit code, and brings its reports back", async () => {
    const job = spec(
      'mkdir -p reports; echo "<testsuite name=\\"s\\" tests=\\"1\\"><testcase name=\\"t\\"/></testsuite>" > reports/a.xml; exit 3',
      { id: "with-reports", reports: ["reports/*.xml"] },
    );
    const run = await w.executor.prepare(runContext(w, [job]));
    const { result, log } = await runJob(run, jobRequest(w, job));
    assert.equal(result.status, "failed", log);
    assert.equal(result.exitCode, 3);
    assert.deepEqual(
      result.reports.map((r) => r.path),
      ["reports/a.xml"],
    );
    assert.match(result.reports[0]!.content, /testcase name="t"/);
    noProblems();
  });

  it("a restricted job gets its granted secrets in its environment and files, nowhere in Kubernetes", async () => {
    const value = "sk-live-5f4e3d2c1b0a";
    const job = spec(
      'test "$API_KEY" = "$(cat "$AIRLOCK_SECRETS_DIR/key.txt")" && echo secrets-ok',
      {
        id: "functional",
        secrets: ["cloud"],
      },
    );
    const run = await w.executor.prepare(runContext(w, [job]));
    const { result, log } = await runJob(
      run,
      jobRequest(w, job, {
        secretEnv: { API_KEY: value },
        secretFiles: [{ name: "key.txt", value }],
      }),
    );
    assert.equal(result.status, "passed", log);
    assert.match(log, /secrets-ok/);
    for (const r of w.k8s.requests) {
      assert.ok(!JSON.stringify(r.body ?? "").includes(value), `${r.operation} carried no secret`);
    }
    noProblems();
  });

  it("network: false puts a NetworkPolicy that denies egress but the job API before the Job", async () => {
    const job = spec("true", { id: "offline", network: false });
    const run = await w.executor.prepare(runContext(w, [job]));
    const { result } = await runJob(run, jobRequest(w, job));
    assert.equal(result.status, "passed");
    const ops = w.k8s.requests.map((r) => r.operation);
    const policyAt = ops.lastIndexOf("NetworkingV1Api.createNamespacedNetworkPolicy");
    const jobAt = ops.lastIndexOf("BatchV1Api.createNamespacedJob");
    assert.ok(policyAt >= 0 && policyAt < jobAt, "the policy came first");
    const policy = w.k8s.requests[policyAt]!.body as {
      spec: { policyTypes: string[]; egress: { to: { ipBlock: { cidr: string } }[] }[] };
    };
    assert.deepEqual(policy.spec.policyTypes, ["Egress", "Ingress"]);
    assert.deepEqual(policy.spec.egress[0]!.to, [{ ipBlock: { cidr: "127.0.0.1/32" } }]);
    assert.equal(w.k8s.policies.size, 0, "the policy went with the job");
    noProblems();
  });

  it("follows the log across dropped connections without losing or repeating a line", async () => {
    const job = spec(
      "for i in $(seq 1 300); do echo line-$i; if [ $((i % 50)) = 0 ]; then sleep 0.3; fi; done",
      {
        id: "chatty",
      },
    );
    const run = await w.executor.prepare(runContext(w, [job]));
    let drops = 0;
    const { result, log } = await runJob(run, jobRequest(w, job), {
      during: (text) => {
        const timer = setInterval(() => {
          const n = (text().match(/line-/g) ?? []).length;
          if (n > drops * 60 && drops < 4 && w.k8s.dropLogStreams() > 0) drops++;
        }, 30);
        setTimeout(() => clearInterval(timer), 30_000).unref();
      },
    });
    assert.equal(result.status, "passed");
    assert.ok(drops >= 2, `dropped ${drops} times`);
    const lines = log.split("\n").filter((l) => l.startsWith("line-"));
    assert.deepEqual(
      lines,
      Array.from({ length: 300 }, (_, i) => `line-${i + 1}`),
    );
  });

  it("a cancel deletes the Job and its pod", async () => {
    const job = spec("echo started; sleep 600", { id: "long" });
    const run = await w.executor.prepare(runContext(w, [job]));
    const ctl = new AbortController();
    const { result } = await runJob(run, jobRequest(w, job), {
      signal: ctl.signal,
      during: (text) => {
        until("the job to start", () => text().includes("started")).then(() =>
          ctl.abort("a newer push"),
        );
      },
    });
    assert.equal(result.status, "cancelled");
    const name = jobName("run-1", "long");
    assert.ok(!w.k8s.jobs.has(name), "the Job is gone");
    await until("the pod to be gone", () => w.k8s.podsOf(name).length === 0);
    noProblems();
  });

  it("a shutdown leaves the Job running for the next attempt", async () => {
    const job = spec("echo started; sleep 600", { id: "detached" });
    const run = await w.executor.prepare(runContext(w, [job], { runId: "run-d1" }));
    const ctl = new AbortController();
    const { result } = await runJob(run, jobRequest(w, job, { runId: "run-d1" }), {
      signal: ctl.signal,
      during: (text) => {
        until("the job to start", () => text().includes("started")).then(() =>
          ctl.abort(new ShutdownAbort()),
        );
      },
    });
    assert.equal(result.status, "cancelled");
    assert.match(result.error ?? "", /runs on, and the run's next attempt follows it/);
    const name = jobName("run-d1", "detached");
    assert.ok(w.k8s.jobs.has(name), "the Job runs on");
    w.k8s.deleteBehindAirlock(name);
  });

  it("after Airlock is killed, the next attempt adopts the running Job; its reports still come back", async () => {
    const job = spec(
      'echo first-part; sleep 2; mkdir -p r; echo "<testsuite/>" > r/x.xml; echo second-part',
      { id: "adoptable", reports: ["r/*.xml"] },
    );
    const name = jobName("run-a1", "adoptable");
    const first = await w.executor.prepare(runContext(w, [job], { runId: "run-a1" }));
    // The first process follows the Job until it dies: nothing of it is cancelled or cleaned up.
    const abandoned = runJob(first, jobRequest(w, job, { runId: "run-a1" }));
    await until("the pod to run", () =>
      w.k8s.podsOf(name).some((p) => p.obj.status.phase === "Running"),
    );
    await w.restart();
    const creates = () =>
      w.k8s.requests.filter((r) => r.operation === "BatchV1Api.createNamespacedJob").length;
    const before = creates();
    const second = await w.executor.prepare(
      runContext(w, [job], { runId: "run-a2", earlierRunIds: ["run-a1"] }),
    );
    const two = await runJob(second, jobRequest(w, job, { runId: "run-a2" }));
    assert.equal(creates(), before, "no second Job was created");
    assert.match(two.log, /took over Kubernetes Job/);
    assert.equal(two.result.status, "passed", two.log);
    assert.match(two.log, /first-part[\s\S]*second-part/);
    assert.deepEqual(
      two.result.reports.map((r) => r.path),
      ["r/x.xml"],
    );
    await abandoned;
    noProblems();
  });

  it("each pod failure that is not the job's fault ends with its own reason", async () => {
    const cases: {
      id: string;
      arrange(name: string): void;
      want: RegExp;
      status: string;
    }[] = [
      {
        id: "pull",
        arrange: () => w.k8s.unpullable.add("registry.example/nope:1"),
        want: /image registry\.example\/nope:1 cannot be pulled \(ErrImagePull/,
        status: "error",
      },
      {
        id: "evicted",
        arrange: (name) =>
          void until("a pod", () =>
            w.k8s.podsOf(name).some((p) => p.obj.status.phase === "Running"),
          ).then(() => w.k8s.evict(name)),
        want: /evicted from its node/,
        status: "error",
      },
      {
        id: "oom",
        arrange: (name) =>
          void until("a pod", () =>
            w.k8s.podsOf(name).some((p) => p.obj.status.phase === "Running"),
          ).then(() => w.k8s.oomKill(name)),
        want: /ran out of memory: its container was killed at its limit of 2Gi/,
        status: "error",
      },
      {
        id: "vanished",
        arrange: (name) =>
          void until("a pod", () =>
            w.k8s.podsOf(name).some((p) => p.obj.status.phase === "Running"),
          ).then(() => w.k8s.deleteBehindAirlock(name)),
        want: /disappeared \(deleted outside Airlock\)/,
        status: "error",
      },
      {
        id: "deadline",
        arrange: (name) =>
          void until("a pod", () =>
            w.k8s.podsOf(name).some((p) => p.obj.status.phase === "Running"),
          ).then(() => w.k8s.exceedDeadline(name)),
        want: /timed out after 1 min: Kubernetes stopped its pod/,
        status: "timed_out",
      },
    ];
    for (const c of cases) {
      const job = spec("sleep 30", { id: c.id });
      const run = await w.executor.prepare(runContext(w, [job]));
      c.arrange(jobName("run-1", c.id));
      const req = jobRequest(w, job);
      const r = await runJob(
        run,
        c.id === "pull" ? { ...req, job: { ...job, image: "registry.example/nope:1" } } : req,
      );
      assert.equal(r.result.status, c.status, `${c.id}: ${r.result.error}`);
      assert.match(r.result.error ?? "", c.want, c.id);
    }
  });

  it("a pod no node can take ends as unschedulable after the configured wait", async () => {
    const slow = new KubernetesExecutor({
      name: "tiny",
      config: kubeConfig(w.k8s, {
        schedule_timeout: "1s",
        resources: { cpu: "64", memory: "1Gi" },
      }),
      jobApi: w.jobApi,
      pollMs: 50,
    });
    const job = spec("true", { id: "big" });
    const run = await slow.prepare(runContext(w, [job]));
    const r = await runJob(run, jobRequest(w, job));
    assert.equal(r.result.status, "error");
    assert.match(
      r.result.error ?? "",
      /no node could take the job's pod for 1s \(0\/1 nodes are available: 1 Insufficient cpu\.\)/,
    );
    assert.match(r.log, /waiting for a node/);
    assert.ok(!w.k8s.jobs.has(jobName("run-1", "big")), "the Job was deleted");
  });

  it("sweeps the Jobs of runs nobody follows; ended ones are left alone", async () => {
    const job = spec("sleep 600", { id: "orphan" });
    const run = await w.executor.prepare(runContext(w, [job], { runId: "run-s1" }));
    const ctl = new AbortController();
    await runJob(run, jobRequest(w, job, { runId: "run-s1" }), {
      signal: ctl.signal,
      during: () => {
        until("the pod", () => w.k8s.podsOf(jobName("run-s1", "orphan")).length > 0).then(() =>
          ctl.abort(new ShutdownAbort()),
        );
      },
    });
    const swept = await w.executor.sweep({
      runIds: ["run-s1"],
      requestedAt: Date.now() - 60_000,
      notes: [],
      withSecretSet: async () => {
        throw new Error("not needed");
      },
    });
    assert.deepEqual(
      swept.map((s) => [s.id, s.outcome]),
      [[jobName("run-s1", "orphan"), "stopped"]],
    );
    assert.ok(!w.k8s.jobs.has(jobName("run-s1", "orphan")));
    noProblems();
  });
});
