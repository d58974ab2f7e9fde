// Where jobs run: `executor:` in .airlock.yml (the GitLab pipeline, and which executor public and
// restricted jobs use by default), and the kinds of named executors a serve config defines.
import { z } from "zod";
import { DURATION_RE, durationStringMs } from "./duration.js";

/** Bounds of `poll_interval`: faster would hammer GitLab's API, slower would report late. */
export const POLL_INTERVAL_MIN_MS = 1_000;
export const POLL_INTERVAL_MAX_MS = 5 * 60_000;

export const GitLabExecutorSchema = z
  .object({
    /** The GitLab instance, e.g. https://gitlab.example.com. */
    url: z
      .string()
      .url("the GitLab url must be a URL such as https://gitlab.example.com")
      .refine((u) => /^https?:\/\//.test(u), "the GitLab url must start with https://"),
    /** Numeric project id or full path ("group/project"). */
    project: z.union([z.number().int().positive(), z.string().min(1)]),
    /** Default ref of the private pipeline (a matched suite branch overrides it). */
    ref: z.string().min(1).default("main"),
    /** Secret set with GITLAB_TRIGGER_TOKEN and GITLAB_API_TOKEN (read_api). */
    secrets: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, "a secret set name"),
    /** Longest a pipeline may take before Airlock cancels it. */
    timeout: z.string().regex(DURATION_RE).default("3h"),
    /** How long the dispatch token stays valid; must cover queueing before the first job. */
    dispatch_ttl: z.string().regex(DURATION_RE).default("6h"),
    /** How often the pipeline is polled at first; the interval grows while nothing changes. */
    poll_interval: z
      .string()
      .regex(DURATION_RE, "the poll interval must be a duration such as 5s or 1m")
      .refine((d) => {
        const ms = durationStringMs(d);
        return ms >= POLL_INTERVAL_MIN_MS && ms <= POLL_INTERVAL_MAX_MS;
      }, "the poll interval must be between 1s and 5m (for example 5s)")
      .default("5s"),
  })
  .strict();

/** An executor's name, as jobs and configurations use it. */
export const ExecutorName = z
  .string()
  .regex(
    /^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$/,
    "an executor name uses lowercase letters, digits and '-' (at most 40), e.g. public-pool",
  );

const Quantity = z
  .string()
  .regex(
    /^[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi|Ti|k|M|G|T)?$/,
    "a Kubernetes quantity such as 500m, 2 or 4Gi",
  );

export const KubernetesExecutorSchema = z
  .object({
    kind: z.literal("kubernetes"),
    /** The namespace the Jobs are created in. */
    namespace: z
      .string()
      .regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, "a Kubernetes namespace name"),
    /** A kubeconfig file; default: the in-cluster service account, else ~/.kube/config. */
    kubeconfig: z.string().min(1).optional(),
    /** The kubeconfig context to use (default: its current context). */
    context: z.string().min(1).optional(),
    /** The image of jobs that name none; it needs sh, curl and tar. */
    image: z.string().min(1).default("docker.io/library/buildpack-deps:bookworm-curl"),
    /** The URL pods reach Airlock's job API at (default: Airlock's public URL). */
    job_api_url: z.string().url().optional(),
    /**
     * Where that URL leads, as CIDRs: the only egress a job with `network: false` keeps (its
     * NetworkPolicy allows these and denies the rest).
     */
    job_api_cidrs: z
      .array(z.string().regex(/^[0-9a-fA-F:.]+\/\d{1,3}$/, "a CIDR such as 10.0.0.5/32"))
      .default([]),
    /**
     * Requests and limits of every job's container; a job's own `limits` (memory, cpus) take
     * their place where they are lower.
     */
    resources: z
      .object({ cpu: Quantity.default("1"), memory: Quantity.default("2Gi") })
      .strict()
      .default({ cpu: "1", memory: "2Gi" }),
    /** How long a finished Job stays for inspection before Kubernetes removes it. */
    ttl_after_finished: z.string().regex(DURATION_RE).default("10m"),
    /** How long a pod may wait for a node before the job ends as unschedulable. */
    schedule_timeout: z.string().regex(DURATION_RE).default("10m"),
    /** How often the Job is looked at while it runs. */
    poll_interval: z.string().regex(DURATION_RE).default("2s"),
    /** Jobs of these kinds may not run here: public jobs, or any job of an unauthorized commit. */
    forbid: z.array(z.enum(["public", "untrusted"])).default([]),
  })
  .strict();

export const LocalExecutorSchema = z
  .object({
    kind: z.literal("local"),
    forbid: z.array(z.enum(["public", "untrusted"])).default([]),
  })
  .strict();

/** A named executor of the serve config (`executors:`), or of `airlock run --executors`. */
export const NamedExecutorSchema = z.discriminatedUnion("kind", [
  KubernetesExecutorSchema,
  LocalExecutorSchema,
]);

export const ExecutorSchema = z
  .object({
    gitlab: GitLabExecutorSchema.optional().describe(
      "Run the restricted jobs as one pipeline of a private GitLab project (see gitlab.md).",
    ),
    public: ExecutorName.optional().describe(
      "The executor public jobs use unless they name one (default: local).",
    ),
    restricted: ExecutorName.optional().describe(
      "The executor restricted jobs use unless they name one (default: gitlab when configured, else local). Read from the base branch.",
    ),
  })
  .strict();

export type NamedExecutorConfig = z.infer<typeof NamedExecutorSchema>;
