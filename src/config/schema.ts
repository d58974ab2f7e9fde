// The .airlock.yml schema. Everything else reads the parsed, typed result of this file.
// Descriptions end up in the JSON Schema (`airlock schema`), where editors show them.
import { z } from "zod";
import { CacheSchema } from "./cache-schema.js";
import { Duration } from "./duration.js";
import { ExecutorName, ExecutorSchema } from "./executor-schema.js";
import { LimitsSchema } from "./limits-schema.js";
import { NetworkSchema } from "./network-schema.js";
import { DEFAULT_SUB, subTemplateProblem } from "./oidc-schema.js";
import { MirrorSchema, SuiteSchema } from "./suite-schema.js";
import { TrustSchema } from "./trust-schema.js";
import { VaultSetSchema } from "./vault-schema.js";
import { workspaceGlob } from "./workspace-path.js";

export { Duration, durationMs } from "./duration.js";
export { TrustSchema };

const identifier = (what: string) =>
  z
    .string()
    .regex(
      /^[A-Za-z0-9][A-Za-z0-9_.-]*$/,
      `${what} must start with a letter or digit and use only letters, digits, "_", "." and "-"`,
    );

export const JobName = identifier("a job name");
export const SetName = identifier("a secret set name");
export const EnvName = z
  .string()
  .regex(
    /^[A-Za-z_][A-Za-z0-9_]*$/,
    "an environment variable name must match [A-Za-z_][A-Za-z0-9_]*",
  );

export const IdTokenSchema = z
  .object({
    aud: z
      .union([z.string().min(1), z.array(z.string().min(1)).min(1)], {
        error: "aud is the audience: a string such as sts.amazonaws.com, or a list of them",
      })
      .describe("The token's audience: a string, or a list (e.g. sts.amazonaws.com, vault)."),
    file: z
      .boolean()
      .default(false)
      .describe(
        "Deliver the token as a file on the job's private tmpfs; the variable holds its path (AWS_WEB_IDENTITY_TOKEN_FILE).",
      ),
    lifetime: Duration.optional().describe(
      "How long the token is valid (default: oidc.lifetime); never past the job's timeout.",
    ),
  })
  .strict();

export const OidcSchema = z
  .object({
    sub: z
      .string()
      .default(DEFAULT_SUB)
      .superRefine((s, ctx) => {
        const p = subTemplateProblem(s);
        if (p) ctx.addIssue({ code: "custom", message: p });
      })
      .describe(
        "The `sub` claim's template: {repo}, {owner}, {pr}, {job}, {template}, {sha}, {base_ref}, {authorization}, {source}.",
      ),
    lifetime: Duration.default("10m").describe(
      "How long an ID token is valid by default; never past the job's timeout.",
    ),
  })
  .strict();

const SCALAR_HINT = "expected a string, number or boolean";
const Scalar = z
  .union([z.string(), z.number(), z.boolean()], { error: SCALAR_HINT })
  .transform(String);

export const JobSchema = z
  .object({
    description: z
      .string()
      .optional()
      .describe(
        "What the job is for; shown by `airlock run --plan`, in the terminal and on the console.",
      ),
    run: z
      .string()
      .min(1, "a job needs a non-empty `run` script")
      .describe(
        "The shell script to run. Never text-substituted: matrix values reach it as environment variables.",
      ),
    needs: z
      .array(JobName)
      .default([])
      .describe("Jobs that must succeed first. A matrix job's name means all its expansions."),
    matrix: z
      .record(EnvName, z.array(Scalar).min(1))
      .optional()
      .describe(
        "Variables with lists of values; the job runs once per combination, each value exported as an environment variable.",
      ),
    name: z.string().optional().describe(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the ${var} syntax of .airlock.yml
      'Names each matrix expansion; ${var} is replaced by the matrix value. The job id is "<key>-<name>".',
    ),
    tags: z.array(z.string().min(1)).default([]).describe(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the ${var} syntax of .airlock.yml
      "Tags that test labels select by (test-aws-infra: tags aws and infra); ${var} allowed.",
    ),
    secrets: z
      .array(SetName)
      .default([])
      .describe(
        "Secret sets the job receives. A job with any is restricted: it runs only when authorized.",
      ),
    id_tokens: z
      .record(EnvName, IdTokenSchema)
      .default({})
      .describe(
        "OIDC ID tokens the job receives, by variable name: { AWS_ID_TOKEN: { aud: sts.amazonaws.com } }. A job with any is restricted.",
      ),
    env: z.record(EnvName, Scalar).default({}).describe("Environment variables for the job."),
    timeout: Duration.default("30m").describe(
      'How long the job may run: "90s", "30m", "2h", "1h30m" or seconds.',
    ),
    network: NetworkSchema,
    reports: z
      .array(workspaceGlob("report", "reports/*.xml"))
      .default([])
      .describe("Glob patterns of JUnit XML reports in the workspace, read into per-test results."),
    artifacts: z
      .array(workspaceGlob("artifact", "dist/**"))
      .default([])
      .describe(
        "Files kept after the job (globs or directories, relative to its directory), e.g. [dist/**, coverage/]: jobs that need it receive them, the console serves them.",
      ),
    cache: CacheSchema.optional().describe(
      "Files kept between runs: restored before the job, saved after it passes. Scoped by trust (docs/security.md).",
    ),
    limits: LimitsSchema.optional().describe(
      "Resource limits for the job: memory, processes, cpus, tmp, home, disk, log, open_files, file_size. A server's maximums win; core dumps are always off.",
    ),
    executor: ExecutorName.optional().describe(
      "Where the job runs: local, gitlab, or an executor the serve config names (see kubernetes.md). A restricted job's comes from the base branch.",
    ),
    image: z
      .string()
      .min(1)
      .optional()
      .describe(
        "The container image on executors that run containers (Kubernetes). The local sandbox uses this machine's tools and says so in the log.",
      ),
  })
  .strict();

export const SecretSetSchema = z
  .object({
    backend: z
      .enum(["embedded", "env", "vault"])
      .default("embedded")
      .describe('Where the values live. A set with a `vault:` block and no backend uses "vault".'),
    env_override: z
      .boolean()
      .default(false)
      .describe(
        "When true, a variable already in Airlock's environment wins over the stored value.",
      ),
    keys: z
      .array(EnvName)
      .default([])
      .describe(
        "For the env backend: the variables of Airlock's environment this set passes on. With env_override, variables that may come from the environment even when the store lacks them.",
      ),
    vault: VaultSetSchema.optional().describe("For the vault backend: where the secret is read."),
  })
  .strict();

export const SelectionSchema = z
  .object({
    label_prefix: z
      .string()
      .default("test-")
      .describe("Labels starting with this select tests: test-aws-infra, test-aws-all, test-all."),
    aliases: z
      .record(z.string(), z.string())
      .default({})
      .describe("Short words labels may use for tags, e.g. { do: digitalocean }."),
  })
  .strict();

export const PublicSummarySchema = z
  .object({
    enabled: z
      .boolean()
      .default(false)
      .describe(
        "Serve a public summary page per run (job states, durations, test results; never a log line).",
      ),
    failure_messages: z
      .enum(["public-jobs", "all", "none"])
      .default("public-jobs")
      .describe(
        "Whose redacted JUnit failure messages the summary shows: public jobs only, all jobs, or none.",
      ),
  })
  .strict();

export const ConfigSchema = z
  .object({
    version: z
      .literal(1, {
        error: (iss) =>
          iss.input === undefined
            ? "missing: add `version: 1` at the top of the file"
            : `unsupported version ${JSON.stringify(iss.input)}: this Airlock reads \`version: 1\``,
      })
      .describe("The format version; always 1."),
    secrets: z
      .record(SetName, SecretSetSchema)
      .default({})
      .describe("Secret sets jobs can declare."),
    trust: TrustSchema.default(TrustSchema.parse({})).describe(
      "Whose pull requests may run restricted jobs without an approval, and who may approve.",
    ),
    selection: SelectionSchema.default(SelectionSchema.parse({})).describe(
      "How pull-request labels choose restricted jobs.",
    ),
    public_summary: PublicSummarySchema.default(PublicSummarySchema.parse({})).describe(
      "A public summary page per run, so contributors are not blind. Off by default.",
    ),
    oidc: OidcSchema.default(OidcSchema.parse({})).describe(
      "The ID tokens Airlock issues to jobs: the `sub` template and the default lifetime.",
    ),
    suite: SuiteSchema.optional().describe("A companion repository holding the test suite."),
    mirror: MirrorSchema.optional().describe(
      "Push each tested pull-request head to an internal branch, for teams that need one.",
    ),
    executor: ExecutorSchema.optional().describe(
      "Where jobs run by default, and the GitLab pipeline restricted jobs may run in.",
    ),
    jobs: z.record(JobName, JobSchema).describe("The pipeline's jobs, by name."),
  })
  .strict();

export type Config = z.infer<typeof ConfigSchema>;
export type JobConfig = z.infer<typeof JobSchema>;
export type SecretSetConfig = z.infer<typeof SecretSetSchema>;
export type IdTokenConfig = z.infer<typeof IdTokenSchema>;
export type OidcConfig = z.infer<typeof OidcSchema>;

/** A job that holds credentials (secret sets or ID tokens) runs only when authorized. */
export const holdsCredentials = (job: Pick<JobConfig, "secrets" | "id_tokens">): boolean =>
  job.secrets.length > 0 || Object.keys(job.id_tokens).length > 0;
