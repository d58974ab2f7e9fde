// Where restricted jobs run when not in the local sandbox: `executor.gitlab` in .airlock.yml.
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

export const ExecutorSchema = z
  .object({
    gitlab: GitLabExecutorSchema.optional().describe(
      "Run the restricted jobs as one pipeline of a private GitLab project (see gitlab.md).",
    ),
  })
  .strict();
