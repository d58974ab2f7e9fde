// A Kubernetes executor against the double, with Airlock's job API on a real loopback server and
// a real git repository to run: what every Kubernetes executor test starts from.
import { PassThrough } from "node:stream";
import Fastify, { type FastifyInstance } from "fastify";
import { loadOrCreateDispatchKey } from "../../../src/dispatch/index.js";
import { runAttempt } from "../../../src/executors/attempt.js";
import type { KubernetesExecutorConfig } from "../../../src/executors/kubernetes/config.js";
import { KubernetesExecutor } from "../../../src/executors/kubernetes/executor.js";
import type {
  JobRequest,
  JobResult,
  JobSpec,
  PreparedRun,
  RunContext,
} from "../../../src/executors/types.js";
import { JobApi } from "../../../src/jobapi/job-api.js";
import { createRedactor } from "../../../src/redact/redactor.js";
import { jobApiRoute } from "../../../src/web/routes/job-api.js";
import { KubernetesDouble } from "../../doubles/kubernetes.js";
import { PATIENCE_MS } from "../../support/patience.js";
import { makeRepo, tempDir } from "../local/helpers.js";

export interface KubeWorld {
  k8s: KubernetesDouble;
  jobApi: JobApi;
  executor: KubernetesExecutor;
  /**
   * Airlock as a new process would be after a SIGKILL: a new job API (its registry empty) on the
   * same address with the same key, and a new executor. The old ones are abandoned, not stopped.
   */
  restart(): Promise<void>;
  repo: string;
  sha: string;
  dir: string;
  close(): Promise<void>;
}

export const NAMESPACE = "ci-public";

/** The executor's settings, as the serve config's schema fills them in. */
export function kubeConfig(
  k8s: KubernetesDouble,
  over: Partial<KubernetesExecutorConfig> = {},
): KubernetesExecutorConfig {
  return {
    kind: "kubernetes",
    namespace: NAMESPACE,
    kubeconfig: k8s.kubeconfig(),
    image: "docker.io/library/buildpack-deps:bookworm-curl",
    job_api_cidrs: ["127.0.0.1/32"],
    resources: { cpu: "1", memory: "2Gi" },
    ttl_after_finished: "10m",
    schedule_timeout: "10m",
    poll_interval: "1s",
    forbid: [],
    ...over,
  };
}

export async function kubeWorld(files: Record<string, string>): Promise<KubeWorld> {
  const t = tempDir("airlock-k8s-test-");
  const { repo, sha } = makeRepo(t.dir, files);
  const k8s = await KubernetesDouble.start(NAMESPACE);
  const key = loadOrCreateDispatchKey(t.dir);
  let app: FastifyInstance | null = null;
  const serve = async (port: number) => {
    const jobApi = new JobApi({ privateKey: key.privateKey, publicKey: key.publicKey });
    app = Fastify();
    await app.register(jobApiRoute, { jobApi });
    jobApi.url = await app.listen({ host: "127.0.0.1", port });
    const executor = new KubernetesExecutor({
      name: "public-pool",
      config: kubeConfig(k8s),
      jobApi,
      pollMs: 50,
    });
    return { jobApi, executor };
  };
  const w: KubeWorld = {
    k8s,
    ...(await serve(0)),
    repo,
    sha,
    dir: t.dir,
    restart: async () => {
      const port = Number(new URL(w.jobApi.url!).port);
      await app?.close();
      Object.assign(w, await serve(port));
    },
    close: async () => {
      await app?.close();
      await k8s.close();
      t.cleanup();
    },
  };
  return w;
}

export function runContext(
  w: KubeWorld,
  jobs: JobSpec[],
  over: Partial<RunContext> = {},
): RunContext {
  return {
    runId: "run-1",
    repo: "acme/app",
    branch: "main",
    sha: w.sha,
    approver: "alice",
    labels: [],
    jobs,
    signal: new AbortController().signal,
    grantSet: async () => {
      throw new Error("no executor credentials here");
    },
    createRedactor: (values) => createRedactor({ secrets: values }),
    ...over,
  };
}

export function spec(run: string, over: Partial<JobSpec> = {}): JobSpec {
  return { id: "unit", run, secrets: [], timeoutMs: 60_000, network: true, reports: [], ...over };
}

export function jobRequest(w: KubeWorld, job: JobSpec, over: Partial<JobRequest> = {}): JobRequest {
  return {
    runId: "run-1",
    job,
    checkout: { kind: "commit", repoDir: w.repo, sha: w.sha },
    workdir: "",
    env: { AIRLOCK_SHA: w.sha, AIRLOCK_JOB: job.id },
    secretEnv: {},
    secretFiles: [],
    mounts: [],
    ...over,
  };
}

/** Runs one job to its end; `during` sees the output as it comes. */
export async function runJob(
  run: PreparedRun,
  req: JobRequest,
  o: { signal?: AbortSignal; during?: (text: () => string) => void } = {},
): Promise<{ result: JobResult; log: string }> {
  const output = new PassThrough();
  let log = "";
  output.on("data", (c: Buffer) => {
    log += c.toString();
  });
  o.during?.(() => log);
  const result = await runAttempt(run, req, {
    output,
    signal: o.signal ?? new AbortController().signal,
  });
  return { result, log };
}

/** Resolves once `cond` holds, checking every 20 ms; the patience only guards against a hang. */
export async function until(
  what: string,
  cond: () => boolean,
  limitMs = PATIENCE_MS,
): Promise<void> {
  const end = Date.now() + limitMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
