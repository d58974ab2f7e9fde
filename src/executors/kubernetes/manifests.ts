// The objects the Kubernetes executor creates for one job attempt: a batch/v1 Job (one pod, never
// retried, deadline from the job's timeout, removed a while after it ends) whose pod passes the
// restricted Pod Security Standard, and, for a job without network, a NetworkPolicy that denies
// its pod every egress but Airlock's job API.
import { createHash } from "node:crypto";
import type { V1Job, V1NetworkPolicy } from "@kubernetes/client-node";
import { jobApiBase } from "../../jobapi/job-api.js";
import type { JobLimits, JobRequest } from "../types.js";
import { BOOTSTRAP } from "./bootstrap.js";

export const LABELS = {
  managedBy: "app.kubernetes.io/managed-by",
  /** The run: its first attempt's id, shared by every attempt (adoption looks for it). */
  run: "airlock.dev/run",
  /** The attempt that created the Job. */
  attempt: "airlock.dev/attempt",
  /** A digest of the job id (ids may be longer than a label value allows). */
  job: "airlock.dev/job",
} as const;
export const ANNOTATIONS = { jobId: "airlock.dev/job-id", sha: "airlock.dev/sha" } as const;
export const CONTAINER = "job";
/** Set by the Job controller on the pods of a Job. */
export const JOB_NAME_LABEL = "batch.kubernetes.io/job-name";

/** Paths inside the pod, as the local sandbox has them. */
export const POD = {
  workspace: "/workspace",
  home: "/home/airlock",
  /** Script and secrets (the bootstrap sets AIRLOCK_SECRETS_DIR below it). */
  run: "/run/airlock",
} as const;

const digest = (s: string, n: number) => createHash("sha256").update(s).digest("hex").slice(0, n);

/** A label value for a job id: stable, short, and safe whatever the id holds. */
export const jobKey = (jobId: string): string => digest(jobId, 20);

/** A label value for a run id (ids are [A-Za-z0-9-]; anything else is digested). */
export const runKey = (runId: string): string =>
  /^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/.test(runId) ? runId : digest(runId, 40);

/** The Job's name: unique per attempt and job, a DNS label that leaves room for the pod suffix. */
export function jobName(runId: string, jobId: string): string {
  const slug = jobId
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 24)
    .replace(/-+$/, "");
  return `airlock-${digest(`${runId}\n${jobId}`, 12)}${slug ? `-${slug}` : ""}`;
}

export interface JobManifestInput {
  req: JobRequest;
  namespace: string;
  /** The run's first attempt. */
  run: string;
  image: string;
  jobApiUrl: string;
  token: string;
  resources: { cpu: string; memory: string };
  ttlSeconds: number;
}

const UNITS: Record<string, number> = {
  "": 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
};

/** A Kubernetes quantity as the configuration allows it ("500m", "2", "4Gi") in base units. */
export function quantity(q: string): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)(m|Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(q);
  if (!m) throw new Error(`not a Kubernetes quantity: ${q}`);
  const unit = m[2] ?? "";
  return Number(m[1]) * (unit === "m" ? 1e-3 : (UNITS[unit] ?? 1));
}

/**
 * The container's CPU and memory (requests and limits alike): the executor's `resources`, or the
 * job's own resolved `limits` where they are lower, so that a job never gets more than its pool
 * and a server maximum (or a job's smaller limit) holds in the cluster too.
 */
export function podResources(
  pool: { cpu: string; memory: string },
  limits: JobLimits = {},
): { cpu: string; memory: string } {
  const mem = limits.memoryBytes;
  const cpu = limits.cpus;
  return {
    cpu:
      cpu !== undefined && cpu < quantity(pool.cpu)
        ? `${Math.max(1, Math.round(cpu * 1000))}m`
        : pool.cpu,
    memory: mem !== undefined && mem < quantity(pool.memory) ? String(mem) : pool.memory,
  };
}

export function jobManifest(m: JobManifestInput): V1Job {
  const { req } = m;
  const name = jobName(req.runId, req.job.id);
  const labels = {
    [LABELS.managedBy]: "airlock",
    [LABELS.run]: runKey(m.run),
    [LABELS.attempt]: runKey(req.runId),
    [LABELS.job]: jobKey(req.job.id),
  };
  const env: Record<string, string> = {
    ...req.env,
    HOME: POD.home,
    LANG: "C.UTF-8",
    TERM: "dumb",
    CI: "true",
    AIRLOCK_WORKSPACE: POD.workspace,
    AIRLOCK_RUN_DIR: POD.run,
    AIRLOCK_WORKDIR: req.workdir ?? "",
    AIRLOCK_RUN_SCRIPT: req.job.run,
    AIRLOCK_REPORTS: req.job.reports.join("\n"),
    AIRLOCK_WANTS_SECRETS:
      Object.keys(req.secretEnv).length + req.secretFiles.length > 0 ? "1" : "0",
    AIRLOCK_JOB_API: jobApiBase(m.jobApiUrl),
    AIRLOCK_JOB_TOKEN: m.token,
  };
  const tmp = req.job.limits?.tmpBytes;
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: {
      name,
      namespace: m.namespace,
      labels,
      annotations: { [ANNOTATIONS.jobId]: req.job.id, [ANNOTATIONS.sha]: shaOf(req) },
    },
    spec: {
      backoffLimit: 0,
      activeDeadlineSeconds: Math.max(1, Math.ceil(req.job.timeoutMs / 1000)),
      ttlSecondsAfterFinished: m.ttlSeconds,
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: "Never",
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: 1000,
            runAsGroup: 1000,
            fsGroup: 1000,
            seccompProfile: { type: "RuntimeDefault" },
          },
          containers: [
            {
              name: CONTAINER,
              image: m.image,
              command: ["/bin/sh", "-c", BOOTSTRAP],
              workingDir: POD.workspace,
              env: Object.entries(env).map(([n, value]) => ({ name: n, value })),
              securityContext: {
                allowPrivilegeEscalation: false,
                privileged: false,
                runAsNonRoot: true,
                capabilities: { drop: ["ALL"] },
                seccompProfile: { type: "RuntimeDefault" },
              },
              resources: {
                requests: { cpu: m.resources.cpu, memory: m.resources.memory },
                limits: { cpu: m.resources.cpu, memory: m.resources.memory },
              },
              volumeMounts: [
                { name: "workspace", mountPath: POD.workspace },
                { name: "home", mountPath: POD.home },
                { name: "tmp", mountPath: "/tmp" },
                { name: "run", mountPath: POD.run },
              ],
            },
          ],
          volumes: [
            { name: "workspace", emptyDir: {} },
            { name: "home", emptyDir: {} },
            { name: "tmp", emptyDir: tmp ? { sizeLimit: String(tmp) } : {} },
            // Secrets and the script live in memory only, never on the node's disk.
            { name: "run", emptyDir: { medium: "Memory", sizeLimit: "64Mi" } },
          ],
        },
      },
    },
  };
}

/**
 * Denies the job's pod all egress except to Airlock's job API (`cidrs`). It takes effect only
 * where the cluster's network plugin enforces NetworkPolicy (see docs/kubernetes.md).
 */
export function networkPolicyManifest(
  namespace: string,
  job: V1Job,
  cidrs: string[],
  port: number,
): V1NetworkPolicy {
  const labels = job.metadata!.labels!;
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: { name: job.metadata!.name!, namespace, labels },
    spec: {
      podSelector: {
        matchLabels: {
          [LABELS.attempt]: labels[LABELS.attempt]!,
          [LABELS.job]: labels[LABELS.job]!,
        },
      },
      policyTypes: ["Egress", "Ingress"],
      ingress: [],
      egress:
        cidrs.length > 0
          ? [
              {
                to: cidrs.map((cidr) => ({ ipBlock: { cidr } })),
                ports: [{ protocol: "TCP", port }],
              },
            ]
          : [],
    },
  };
}

function shaOf(req: JobRequest): string {
  return req.checkout.kind === "commit" ? req.checkout.sha : (req.env.AIRLOCK_SHA ?? "");
}
