// Per-job overhead of the Kubernetes executor's own work (create the Job, follow it, follow its
// log, serve the job API, tear down) against the Kubernetes double, beside the local executor in
// the same run. The double's kubelet runs each pod in the same bubblewrap sandbox the local
// executor uses, and its time is measured; what the Kubernetes executor adds is the rest.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { PassThrough } from "node:stream";
import Fastify from "fastify";
import { loadOrCreateDispatchKey } from "../src/dispatch/index.js";
import { runAttempt } from "../src/executors/attempt.js";
import { KubernetesExecutor } from "../src/executors/kubernetes/executor.js";
import { LocalExecutor } from "../src/executors/local/executor.js";
import type { JobRequest, JobSpec, PreparedRun, RunContext } from "../src/executors/types.js";
import { JobApi } from "../src/jobapi/job-api.js";
import { createRedactor } from "../src/redact/redactor.js";
import { jobApiRoute } from "../src/web/routes/job-api.js";
import { KubernetesDouble } from "../test/doubles/kubernetes.js";
import { makeBenchRepo } from "./sandbox-baselines.js";
import type { BenchResult } from "./types.js";

const JOBS = Number(process.env.AIRLOCK_BENCH_K8S_JOBS ?? 30);
const POLL_MS = 50;

async function perJob(run: PreparedRun, mk: (i: number) => JobRequest): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < JOBS; i++) {
    const output = new PassThrough();
    output.resume();
    const r = await runAttempt(run, mk(i), { output, signal: new AbortController().signal });
    if (r.status !== "passed") throw new Error(`job ${i} ended ${r.status}: ${r.error ?? ""}`);
  }
  return (performance.now() - t0) / JOBS;
}

export default async function kubernetesBench(): Promise<BenchResult> {
  const dir = mkdtempSync(path.join(tmpdir(), "airlock-bench-k8s-"));
  const k8s = await KubernetesDouble.start("bench");
  const key = loadOrCreateDispatchKey(dir);
  const jobApi = new JobApi({ privateKey: key.privateKey, publicKey: key.publicKey });
  const app = Fastify();
  await app.register(jobApiRoute, { jobApi });
  jobApi.url = await app.listen({ host: "127.0.0.1", port: 0 });
  const local = new LocalExecutor({ dataDir: path.join(dir, "data"), tempDir: dir });
  try {
    const { repo, sha } = makeBenchRepo(dir);
    const spec = (i: number): JobSpec => ({
      id: `noop-${i}`,
      run: "true",
      secrets: [],
      timeoutMs: 60_000,
      network: true,
      reports: [],
    });
    const req =
      (runId: string) =>
      (i: number): JobRequest => ({
        runId,
        job: spec(i),
        checkout: { kind: "commit", repoDir: repo, sha },
        env: { AIRLOCK_SHA: sha },
        secretEnv: {},
        secretFiles: [],
        mounts: [],
      });
    const ctx: RunContext = {
      runId: "bench-k8s",
      repo: "bench",
      branch: null,
      sha,
      approver: "bench",
      labels: [],
      jobs: Array.from({ length: JOBS }, (_, i) => spec(i)),
      signal: new AbortController().signal,
      grantSet: async () => {
        throw new Error("no credentials");
      },
      createRedactor: (v) => createRedactor({ secrets: v }),
    };
    const kube = new KubernetesExecutor({
      name: "bench",
      config: {
        kind: "kubernetes",
        namespace: "bench",
        kubeconfig: k8s.kubeconfig(),
        image: "bench",
        job_api_cidrs: [],
        resources: { cpu: "1", memory: "1Gi" },
        ttl_after_finished: "10m",
        schedule_timeout: "10m",
        poll_interval: "1s",
        forbid: [],
      },
      jobApi,
      pollMs: POLL_MS,
    });
    const localMs = await perJob(await local.prepare(), req("bench-local"));
    const kubeletBefore = k8s.kubeletMs;
    const kubeMs = await perJob(await kube.prepare(ctx), req("bench-k8s"));
    const kubeletMs = (k8s.kubeletMs - kubeletBefore) / JOBS;
    const own = kubeMs - kubeletMs;
    return {
      bench: `kubernetes: ${JOBS} no-op jobs, one at a time, against the Kubernetes double`,
      rows: [
        { name: "local executor (per job)", value: localMs, unit: "ms" },
        {
          name: "kubernetes executor, end to end (per job)",
          value: kubeMs,
          unit: "ms",
          ratio: { value: kubeMs / localMs, against: "local executor" },
        },
        { name: "  of which the double's kubelet (sandboxed pod)", value: kubeletMs, unit: "ms" },
        {
          name: "kubernetes executor's own work (per job)",
          value: own,
          unit: "ms",
          ratio: { value: own / localMs, against: "local executor" },
        },
      ],
      notes: [
        `own work = create the Job (network: true, so no NetworkPolicy), poll it every ${POLL_MS} ms, follow the pod's log, serve source over the job API, tear down; it includes waiting up to one poll interval to see the end`,
        "the kubelet's time includes the pod's own bootstrap (curl of the source tarball, tar) inside the sandbox",
      ],
    };
  } finally {
    await app.close();
    await k8s.close();
    await local.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
