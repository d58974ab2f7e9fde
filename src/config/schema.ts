// The .airlock.yml schema. Everything else reads the parsed, typed result of this file.
import { z } from "zod";
import { SuiteSchema } from "./suite-schema.js";
import { VaultSetSchema } from "./vault-schema.js";

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

/** "90s", "30m", "2h", "1h30m" or a number of seconds. */
export const Duration = z.union([
  z.number().int().positive(),
  z
    .string()
    .regex(/^(\d+h)?(\d+m)?(\d+s)?$/, 'a duration looks like "90s", "30m", "2h" or "1h30m"')
    .refine((s) => s.length > 0, "a duration must not be empty"),
]);

export function durationMs(d: z.infer<typeof Duration>): number {
  if (typeof d === "number") return d * 1000;
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(d);
  const [, h = "0", min = "0", s = "0"] = m ?? [];
  return ((Number(h) * 60 + Number(min)) * 60 + Number(s)) * 1000;
}

const MatrixValue = z.union([z.string(), z.number(), z.boolean()]).transform(String);

export const JobSchema = z
  .object({
    run: z.string().min(1, "a job needs a non-empty `run` script"),
    needs: z.array(JobName).default([]),
    matrix: z.record(EnvName, z.array(MatrixValue).min(1)).optional(),
    name: z.string().optional(),
    tags: z.array(z.string().min(1)).default([]),
    secrets: z.array(SetName).default([]),
    env: z
      .record(EnvName, z.union([z.string(), z.number(), z.boolean()]).transform(String))
      .default({}),
    timeout: Duration.default("30m"),
    network: z.boolean().default(false),
    reports: z.array(z.string().min(1)).default([]),
  })
  .strict();

export const SecretSetSchema = z
  .object({
    backend: z.enum(["embedded", "env", "vault"]).default("embedded"),
    env_override: z.boolean().default(false),
    vault: VaultSetSchema.optional(),
  })
  .strict();

export const TrustSchema = z
  .object({
    orgs: z.array(z.string()).default([]),
    teams: z.array(z.string()).default([]),
    permission: z.enum(["admin", "maintain", "write"]).default("write"),
    bots: z.array(z.string()).default([]),
    users: z.array(z.string()).default([]),
    approval: z.literal("per-commit").default("per-commit"),
  })
  .strict();

export const SelectionSchema = z
  .object({
    label_prefix: z.string().default("test-"),
    aliases: z.record(z.string(), z.string()).default({}),
  })
  .strict();

export const ConfigSchema = z
  .object({
    version: z.literal(1),
    secrets: z.record(SetName, SecretSetSchema).default({}),
    trust: TrustSchema.default(TrustSchema.parse({})),
    selection: SelectionSchema.default(SelectionSchema.parse({})),
    suite: SuiteSchema.optional(),
    jobs: z.record(JobName, JobSchema),
  })
  .strict();

export type Config = z.infer<typeof ConfigSchema>;
export type JobConfig = z.infer<typeof JobSchema>;
export type SecretSetConfig = z.infer<typeof SecretSetSchema>;
