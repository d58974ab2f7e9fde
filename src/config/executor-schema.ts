// Where restricted jobs run when not in the local sandbox: `executor.gitlab` in .airlock.yml.
import { z } from "zod";

const DURATION_RE = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;

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
  })
  .strict();

export const ExecutorSchema = z
  .object({
    gitlab: GitLabExecutorSchema.optional().describe(
      "Run the restricted jobs as one pipeline of a private GitLab project (see gitlab.md).",
    ),
  })
  .strict();
