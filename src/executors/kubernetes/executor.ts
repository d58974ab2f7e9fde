// The Kubernetes executor: each job attempt as one batch/v1 Job in a namespace, its pod fetching
// the commit (and a restricted job's secrets) from Airlock's job API with a one-time token, its
// log followed into the job's output through the redactor, its reports uploaded back. Nothing
// secret is written into a Kubernetes object: the token in the pod's environment is bound to the
// attempt, short-lived, and each job API endpoint answers it once.
//
// Cancel deletes the Job with its pod. A shutdown of Airlock leaves the Job running; the run's next
// attempt finds it by its labels and follows it instead of starting another (adoption). A Job
// that disappears is reported as such at once, never waited on.
import type { Writable } from "node:stream";
import type { V1Job, V1Pod } from "@kubernetes/client-node";
import { durationMs } from "../../config/schema.js";
import { idTokenUrl } from "../../jobapi/id-token.js";
import { type JobApi, type JobApiGrant, jobApiBase } from "../../jobapi/job-api.js";
import type { JobApiAttempt } from "../../jobapi/types.js";
import { ID_TOKEN_ENV } from "../../secrets/oidc/grant.js";
import { isShutdownReason } from "../abort.js";
import { abortableSleep } from "../sleep.js";
import { sourceArchive } from "../source-archive.js";
import type {
  AbandonedWork,
  Executor,
  JobAttempt,
  JobEnd,
  JobRequest,
  PreparedRun,
  RunContext,
  SweptWork,
} from "../types.js";
import { Cluster, NotFound } from "./cluster.js";
import type { KubernetesExecutorConfig } from "./config.js";
import { followLog } from "./logs.js";
import {
  CONTAINER,
  JOB_NAME_LABEL,
  jobKey,
  jobManifest,
  LABELS,
  networkPolicyManifest,
  podResources,
  runKey,
} from "./manifests.js";
import { containerEnded, containerStarted, interpret, newest } from "./status.js";

export interface KubernetesExecutorOptions {
  name: string;
  config: KubernetesExecutorConfig;
  jobApi: JobApi;
  /** The cluster client (default: from the config's kubeconfig). */
  cluster?: Cluster;
  /** How often the Job is looked at, overriding `poll_interval` (tests, benchmarks). */
  pollMs?: number;
}

export class KubernetesExecutor implements Executor {
  readonly name: string;
  readonly kind = "kubernetes";
  readonly remoteSecrets = false;
  readonly fetchesSuite = false;
  #cluster: Promise<Cluster> | undefined;

  constructor(private readonly o: KubernetesExecutorOptions) {
    this.name = o.name;
    if (o.cluster) this.#cluster = Promise.resolve(o.cluster);
  }

  /** The cluster client, made on first use so that a bad kubeconfig fails the job, not Airlock. */
  cluster(): Promise<Cluster> {
    this.#cluster ??= Cluster.connect({
      namespace: this.o.config.namespace,
      ...(this.o.config.kubeconfig ? { kubeconfig: this.o.config.kubeconfig } : {}),
      ...(this.o.config.context ? { context: this.o.config.context } : {}),
    });
    return this.#cluster;
  }

  async prepare(run: RunContext): Promise<PreparedRun> {
    const url = this.o.config.job_api_url ?? this.o.jobApi.url;
    if (!url) {
      throw new Error(
        `executor ${this.name}: pods cannot reach Airlock's job API: set its job_api_url to an address of Airlock the cluster's pods can reach`,
      );
    }
    const cluster = await this.cluster().catch((e: unknown) => {
      this.#cluster = undefined;
      throw e;
    });
    return {
      start: (req) => this.#start(cluster, run, req, url),
      close: async () => {},
    };
  }

  async #start(
    cluster: Cluster,
    run: RunContext,
    req: JobRequest,
    url: string,
  ): Promise<JobAttempt> {
    if (req.mounts.length > 0) {
      throw new Error(
        `job ${req.job.id} needs the companion suite mounted, which a Kubernetes pod cannot have: run it on the local or GitLab executor`,
      );
    }
    const c = this.o.config;
    const first = run.earlierRunIds?.[0] ?? run.runId;
    const base: Omit<JobApiAttempt, "runId"> = {
      jobId: req.job.id,
      repo: run.repo,
      sha: run.sha,
      source: async () => sourceArchive(req.checkout),
      reports: [],
      ...(req.idTokens ? { idTokens: req.idTokens } : {}),
    };
    if (run.earlierRunIds?.length) {
      const adopted = await this.#adopt(cluster, run, req, first, base);
      if (adopted) return adopted;
    }
    const restricted = Object.keys(req.secretEnv).length + req.secretFiles.length > 0;
    const attempt: JobApiAttempt = {
      ...base,
      runId: req.runId,
      ...(run.authorize ? { authorize: run.authorize } : {}),
    };
    const grant = this.o.jobApi.register(
      attempt,
      req.job.timeoutMs + durationMs(c.schedule_timeout) + 10 * 60_000,
    );
    req.mask?.([{ name: "AIRLOCK_JOB_TOKEN", value: grant.token }]);
    if (restricted) {
      attempt.secrets = {
        env: { ...req.secretEnv, ...idTokenRequestEnv(req, url, grant.token) },
        files: req.secretFiles,
      };
    }
    const job = jobManifest({
      req,
      namespace: cluster.namespace,
      run: first,
      image: req.job.image ?? c.image,
      jobApiUrl: url,
      token: grant.token,
      resources: podResources(c.resources, req.job.limits),
      ttlSeconds: Math.round(durationMs(c.ttl_after_finished) / 1000),
    });
    const name = job.metadata!.name!;
    const policy = !req.job.network;
    try {
      // The policy first, so that the pod never runs a moment without it.
      if (policy) {
        await cluster.createNetworkPolicy(
          networkPolicyManifest(cluster.namespace, job, c.job_api_cidrs, portOf(url)),
        );
      }
      await cluster.createJob(job);
    } catch (e) {
      grant.revoke();
      if (policy) await cluster.deleteNetworkPolicy(name).catch(() => {});
      throw e;
    }
    return new KubernetesAttempt(
      cluster,
      this.#timing(req),
      req,
      name,
      grant,
      attempt,
      false,
      policy,
    );
  }

  /** The Job an earlier attempt of the run started for this job, taken over if it is still there. */
  async #adopt(
    cluster: Cluster,
    run: RunContext,
    req: JobRequest,
    first: string,
    base: Omit<JobApiAttempt, "runId">,
  ): Promise<JobAttempt | null> {
    const earlier = new Set((run.earlierRunIds ?? []).map(runKey));
    const jobs = (
      await cluster.listJobs(`${LABELS.run}=${runKey(first)},${LABELS.job}=${jobKey(req.job.id)}`)
    ).filter(
      (j) =>
        !j.metadata?.deletionTimestamp && earlier.has(j.metadata?.labels?.[LABELS.attempt] ?? ""),
    );
    const job = jobs.sort((a, b) => time(b) - time(a))[0];
    if (!job) return null;
    const token = job.spec?.template.spec?.containers
      .find((ct) => ct.name === CONTAINER)
      ?.env?.find((e) => e.name === "AIRLOCK_JOB_TOKEN")?.value;
    const attempt: JobApiAttempt = { ...base, runId: req.runId };
    const grant = token ? this.o.jobApi.adopt(token, attempt) : null;
    if (token) req.mask?.([{ name: "AIRLOCK_JOB_TOKEN", value: token }]);
    const name = job.metadata!.name!;
    return new KubernetesAttempt(
      cluster,
      this.#timing(req),
      req,
      name,
      grant,
      attempt,
      true,
      !req.job.network,
    );
  }

  #timing(req: JobRequest): Timing {
    const c = this.o.config;
    return {
      pollMs: this.o.pollMs ?? durationMs(c.poll_interval),
      scheduleTimeoutMs: durationMs(c.schedule_timeout),
      memory: podResources(c.resources, req.job.limits).memory,
    };
  }

  /** Deletes the Jobs (and their NetworkPolicies) of the runs of `work` that are still active. */
  async sweep(work: AbandonedWork): Promise<SweptWork[]> {
    const cluster = await this.cluster();
    const selector = `${LABELS.attempt} in (${work.runIds.map(runKey).join(",")})`;
    const out: SweptWork[] = [];
    for (const job of await cluster.listJobs(selector)) {
      const name = job.metadata!.name!;
      const runId = job.metadata?.labels?.[LABELS.attempt] ?? "";
      const done = job.status?.conditions?.find(
        (c) => (c.type === "Complete" || c.type === "Failed") && c.status === "True",
      );
      if (done || job.metadata?.deletionTimestamp) {
        out.push({ id: name, runId, status: done?.type ?? "Deleting", outcome: "ended" });
        continue;
      }
      await cluster.deleteJob(name);
      out.push({ id: name, runId, status: "Active", outcome: "stopped" });
    }
    for (const p of await cluster.listNetworkPolicies(selector)) {
      await cluster.deleteNetworkPolicy(p.metadata!.name!);
    }
    return out;
  }
}

interface Timing {
  pollMs: number;
  scheduleTimeoutMs: number;
  memory: string;
}

/** One Job, followed until it ends. */
class KubernetesAttempt implements JobAttempt {
  readonly #stop = new AbortController();
  readonly #end: Promise<JobEnd>;
  #pods: V1Pod[] = [];
  #ended = false;
  #deleted = false;
  #detached = false;
  #cancelled: string | null = null;
  #output: Writable | null = null;
  readonly #notes: string[] = [];
  #wake: (() => void) | null = null;

  constructor(
    private readonly cluster: Cluster,
    private readonly t: Timing,
    private readonly req: JobRequest,
    private readonly name: string,
    private readonly grant: JobApiGrant | null,
    private readonly attempt: JobApiAttempt,
    readonly adopted: boolean,
    private readonly policy: boolean,
  ) {
    attempt.note = (text) => this.#say(text);
    if (adopted) this.#say(`took over Kubernetes Job ${name}, which an earlier attempt started`);
    else this.#say(`started Kubernetes Job ${name} in namespace ${cluster.namespace}`);
    this.#end = this.#follow().finally(() => {
      this.#ended = true;
      this.#wake?.();
    });
  }

  #say(text: string): void {
    const line = `airlock: ${text}\n`;
    if (this.#output) this.#output.write(line);
    else this.#notes.push(line);
  }

  /** Polls the Job and its pod until it ends, and says what it waits for. */
  async #follow(): Promise<JobEnd> {
    const poll = this.t.pollMs;
    const started = Date.now();
    // Airlock's own bound beyond the Job's deadline, should the cluster not enforce it.
    const limit = started + this.req.job.timeoutMs + this.t.scheduleTimeoutMs + 60_000;
    // The Job controller labels its pods with the Job's name.
    const selector = `${JOB_NAME_LABEL}=${this.name}`;
    let said = "";
    for (;;) {
      if (this.#cancelled !== null) return this.#cancelledEnd();
      let job: V1Job;
      try {
        job = await this.cluster.readJob(this.name);
        this.#pods = await this.cluster.listPods(selector);
      } catch (e) {
        if (this.#cancelled !== null) return this.#cancelledEnd();
        if (e instanceof NotFound) {
          return {
            status: "error",
            exitCode: null,
            error: `the Kubernetes Job ${this.name} disappeared (deleted outside Airlock): the job's result is unknown; run it again`,
          };
        }
        return {
          status: "error",
          exitCode: null,
          error: `lost track of Kubernetes Job ${this.name}: ${message(e)}`,
        };
      }
      const phase = interpret(job, this.#pods, {
        now: Date.now(),
        scheduleTimeoutMs: this.t.scheduleTimeoutMs,
        timeoutMs: this.req.job.timeoutMs,
        memory: this.t.memory,
      });
      if (phase.kind === "ended") {
        if (phase.stop) await this.#delete();
        return phase.end;
      }
      if (Date.now() >= limit) {
        await this.#delete();
        return {
          status: "timed_out",
          exitCode: null,
          error: `the job did not end within its timeout: Airlock deleted Kubernetes Job ${this.name}`,
        };
      }
      if (phase.kind === "waiting" && phase.why !== said) {
        said = phase.why;
        this.#say(`pod: ${phase.why}`);
      }
      this.#wake?.();
      await abortableSleep(poll, this.#stop.signal);
    }
  }

  #cancelledEnd(): JobEnd {
    return {
      status: "cancelled",
      exitCode: null,
      ...(this.#cancelled ? { error: this.#cancelled } : {}),
    };
  }

  async #delete(): Promise<void> {
    this.#deleted = true;
    await this.cluster.deleteJob(this.name);
    if (this.policy) await this.cluster.deleteNetworkPolicy(this.name).catch(() => {});
  }

  async logs(output: Writable): Promise<void> {
    this.#output = output;
    for (const n of this.#notes.splice(0)) output.write(n);
    // The container's log exists once it started; a job that ended before never had one.
    while (!containerStarted(this.#pods) && !this.#ended) {
      await new Promise<void>((r) => {
        this.#wake = r;
      });
    }
    const pod = newest(this.#pods)?.metadata?.name;
    if (!pod || !containerStarted(this.#pods)) return;
    await followLog(
      {
        // A deleted pod has no more log: an empty one, so that the follower stops as soon as the
        // Job is known to have ended rather than reconnecting to nothing for minutes.
        open: async (sinceSeconds, signal) =>
          this.cluster
            .openLog(pod, CONTAINER, { ...(sinceSeconds ? { sinceSeconds } : {}), signal })
            .catch((e: unknown) => {
              if (e instanceof NotFound) return (async function* () {})();
              throw e;
            }),
        ended: async () => this.#ended || containerEnded(this.#pods),
      },
      output,
      {
        signal: this.#stop.signal,
        onReconnect: (n) => n === 1 && this.#say("the log connection dropped: reconnecting"),
      },
    );
  }

  wait(): Promise<JobEnd> {
    return this.#end;
  }

  async reports() {
    return this.attempt.reports;
  }

  async cancel(reason?: unknown): Promise<void> {
    if (this.#ended || this.#cancelled !== null) return;
    if (isShutdownReason(reason)) {
      this.#detached = true;
      this.#cancelled = `Airlock shut down while Kubernetes Job ${this.name} ran: it runs on, and the run's next attempt follows it`;
    } else {
      this.#cancelled = "";
      await this.#delete().catch((e: unknown) => {
        this.#say(`deleting Kubernetes Job ${this.name} failed: ${message(e)}`);
      });
    }
    this.#stop.abort();
  }

  async destroy(): Promise<void> {
    this.#stop.abort();
    await this.#end;
    this.grant?.revoke();
    if (!this.#detached && this.policy && !this.#deleted) {
      await this.cluster.deleteNetworkPolicy(this.name);
    }
  }
}

/**
 * A pod cannot reach the per-job socket of the local sandbox: its fresh ID tokens come from the
 * job API, with the job's token as the request token, under the variables the socket's grant
 * set, so that one job script works on either executor.
 */
function idTokenRequestEnv(req: JobRequest, url: string, token: string): Record<string, string> {
  if (!req.idTokens) return {};
  return {
    [ID_TOKEN_ENV.url]: idTokenUrl(jobApiBase(url)),
    [ID_TOKEN_ENV.token]: token,
  };
}

function portOf(url: string): number {
  const u = new URL(url);
  return u.port ? Number(u.port) : u.protocol === "https:" ? 443 : 80;
}

function time(j: V1Job): number {
  const t = j.metadata?.creationTimestamp;
  return t ? new Date(t).getTime() : 0;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
