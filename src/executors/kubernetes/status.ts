// Reads a Job and its pod as the executor reports them. A failure that is not the job's own
// (image pull, no node, eviction, out of memory, deadline) ends with its own reason, so that
// nobody reads "failed" for what the cluster did.
import type { V1Job, V1Pod } from "@kubernetes/client-node";
import type { JobEnd } from "../types.js";
import { CONTAINER } from "./manifests.js";

type Ended = { kind: "ended"; end: JobEnd; stop?: boolean };
export type JobPhase = { kind: "waiting"; why: string } | { kind: "running" } | Ended;

export interface InterpretOptions {
  now: number;
  /** How long a pod may stay unscheduled. */
  scheduleTimeoutMs: number;
  timeoutMs: number;
  memory: string;
}

const PULL = new Set(["ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"]);
const CONFIG = new Set(["CreateContainerConfigError", "CreateContainerError", "RunContainerError"]);

export function interpret(job: V1Job, pods: V1Pod[], o: InterpretOptions): JobPhase {
  const failed = job.status?.conditions?.find((c) => c.type === "Failed" && c.status === "True");
  if (failed?.reason === "DeadlineExceeded") {
    return ended(
      "timed_out",
      null,
      `the job timed out after ${minutes(o.timeoutMs)}: Kubernetes stopped its pod`,
    );
  }
  const pod = newest(pods);
  const cs = pod?.status?.containerStatuses?.find((c) => c.name === CONTAINER);
  const term = cs?.state?.terminated;
  if (pod?.status?.reason === "Evicted") {
    return ended(
      "error",
      null,
      `the pod was evicted from its node (${pod.status.message ?? "no reason given"}): the node ran short of resources; run the job again`,
    );
  }
  if (term) {
    if (term.reason === "OOMKilled") {
      return ended(
        "error",
        term.exitCode ?? null,
        `the job ran out of memory: its container was killed at its limit of ${o.memory}; raise the executor's resources.memory`,
      );
    }
    const code = term.exitCode ?? null;
    return code === 0 ? ended("passed", 0) : ended("failed", code);
  }
  const waiting = cs?.state?.waiting;
  if (waiting?.reason && PULL.has(waiting.reason)) {
    return {
      ...ended(
        "error",
        null,
        `the image ${cs?.image ?? ""} cannot be pulled (${waiting.reason}${waiting.message ? `: ${waiting.message}` : ""}): check the image name and the namespace's pull secrets`,
      ),
      stop: true,
    };
  }
  if (waiting?.reason && CONFIG.has(waiting.reason)) {
    return {
      ...ended(
        "error",
        null,
        `the job's container could not be created (${waiting.reason}${waiting.message ? `: ${waiting.message}` : ""})`,
      ),
      stop: true,
    };
  }
  const unscheduled = pod?.status?.conditions?.find(
    (c) => c.type === "PodScheduled" && c.status === "False" && c.reason === "Unschedulable",
  );
  if (unscheduled) {
    const since = timeOf(pod?.metadata?.creationTimestamp) ?? o.now;
    if (o.now - since >= o.scheduleTimeoutMs) {
      return {
        ...ended(
          "error",
          null,
          `no node could take the job's pod for ${minutes(o.scheduleTimeoutMs)} (${unscheduled.message ?? "unschedulable"}): check the cluster's capacity and the executor's resources`,
        ),
        stop: true,
      };
    }
    return {
      kind: "waiting",
      why: `waiting for a node: ${unscheduled.message ?? "unschedulable"}`,
    };
  }
  if (failed) {
    return ended(
      "failed",
      null,
      `Kubernetes reports the Job failed (${failed.reason ?? "no reason"}${failed.message ? `: ${failed.message}` : ""})`,
    );
  }
  if (job.status?.conditions?.some((c) => c.type === "Complete" && c.status === "True")) {
    return ended("passed", 0);
  }
  if (cs?.state?.running) return { kind: "running" };
  return { kind: "waiting", why: waiting?.reason ?? pod?.status?.phase ?? "no pod yet" };
}

/** True once the job's container has stopped (its log can only end now). */
export function containerEnded(pods: V1Pod[]): boolean {
  const pod = newest(pods);
  const cs = pod?.status?.containerStatuses?.find((c) => c.name === CONTAINER);
  return (
    Boolean(cs?.state?.terminated) ||
    pod?.status?.phase === "Failed" ||
    pod?.status?.phase === "Succeeded"
  );
}

/** True once the container has started, so that it has a log to follow. */
export function containerStarted(pods: V1Pod[]): boolean {
  const cs = newest(pods)?.status?.containerStatuses?.find((c) => c.name === CONTAINER);
  return Boolean(cs?.state?.running || cs?.state?.terminated);
}

export function newest(pods: V1Pod[]): V1Pod | undefined {
  return [...pods].sort(
    (a, b) =>
      (timeOf(b.metadata?.creationTimestamp) ?? 0) - (timeOf(a.metadata?.creationTimestamp) ?? 0),
  )[0];
}

function ended(status: JobEnd["status"], exitCode: number | null, error?: string): Ended {
  return { kind: "ended", end: { status, exitCode, ...(error ? { error } : {}) } };
}

function timeOf(t: Date | string | undefined): number | undefined {
  if (t === undefined) return undefined;
  const ms = new Date(t).getTime();
  return Number.isNaN(ms) ? undefined : ms;
}

function minutes(ms: number): string {
  return ms < 60_000 ? `${Math.round(ms / 1000)}s` : `${Math.round(ms / 60_000)} min`;
}
