// The serve config file: its schema, and reading it without ever holding a secret value in it
// (the file names where secrets are, as { env } or { file } references, resolved here on demand).
// Kept apart from serve-config.ts so `airlock run -c` can read a file's limits and executors
// without the GitHub App settings that `airlock serve` needs.
import { readFileSync } from "node:fs";
import path from "node:path";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import {
  ExecutorName,
  type NamedExecutorConfig,
  NamedExecutorSchema,
} from "../config/executor-schema.js";
import { databaseSchema } from "../store/settings.js";
import { retentionSchema } from "./retention.js";
import { limitsFileShape, resolveLimits, type ServeLimits } from "./serve-limits.js";
import { settingsFileShape } from "./serve-settings.js";

export class ServeConfigError extends Error {}

export const secretRef = z.union([
  z.object({ env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/) }).strict(),
  z.object({ file: z.string().min(1) }).strict(),
]);

const fileSchema = z
  .object({
    github: z
      .object({
        app_id: z.union([z.number().int().positive(), z.string().regex(/^\d+$/)]).optional(),
        private_key: secretRef.optional(),
        webhook_secrets: z.array(secretRef).min(1).optional(),
        api_url: z.string().optional(),
        clone_url: z.string().optional(),
        oauth: z
          .object({ client_id: z.string().min(1), client_secret: secretRef })
          .strict()
          .optional(),
      })
      .strict()
      .optional(),
    data_dir: z.string().optional(),
    listen: z.string().optional(),
    public_url: z.string().optional(),
    trust_proxy: z.boolean().optional(),
    executors: z.record(ExecutorName, NamedExecutorSchema).optional(),
    ...settingsFileShape,
    egress: z.object({ require_allowlist: z.boolean().optional() }).strict().optional(),
    ...limitsFileShape,
    database: databaseSchema.optional(),
    retention: retentionSchema.optional(),
  })
  .strict();

export type FileConfig = z.infer<typeof fileSchema>;

export function fail(msg: string): never {
  throw new ServeConfigError(msg);
}

export function readConfigFile(file: string): FileConfig {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    fail(`cannot read the serve config ${file}: ${(e as NodeJS.ErrnoException).code ?? "error"}`);
  }
  let raw: unknown;
  try {
    raw = file.endsWith(".json") ? JSON.parse(text) : parseYaml(text);
  } catch {
    fail(`the serve config ${file} is not valid ${file.endsWith(".json") ? "JSON" : "YAML"}`);
  }
  // A literal string where a secret reference belongs is a secret written in clear.
  const gh = (raw as { github?: Record<string, unknown> } | null)?.github;
  if (typeof gh?.private_key === "string") {
    fail(
      `${file}: github.private_key must not hold the key itself; write { file: PATH } or { env: VAR }`,
    );
  }
  const oauth = gh?.oauth as Record<string, unknown> | undefined;
  if (typeof oauth?.client_secret === "string") {
    fail(
      `${file}: github.oauth.client_secret must not hold the secret itself; write { env: VAR } or { file: PATH }`,
    );
  }
  if (Array.isArray(gh?.webhook_secrets) && gh.webhook_secrets.some((s) => typeof s === "string")) {
    fail(
      `${file}: github.webhook_secrets must not hold secret values; list { env: VAR } or { file: PATH } entries`,
    );
  }
  const dbBlock = (raw as { database?: Record<string, unknown> } | null)?.database;
  if (typeof dbBlock?.password === "string") {
    fail(
      `${file}: database.password must not hold the password itself; write { file: PATH } or { env: VAR }`,
    );
  }
  const r = fileSchema.safeParse(raw ?? {});
  if (!r.success) {
    const i = r.error.issues[0]!;
    // Only the path and zod's message: neither quotes the input value.
    fail(`${file}: ${i.path.join(".") || "(top level)"}: ${i.message}`);
  }
  return r.data;
}

/** The job limits of a serve config file (`airlock run -c`), without resolving its secrets. */
export function readServeLimits(file: string): ServeLimits {
  const abs = path.resolve(file);
  try {
    return resolveLimits(readConfigFile(abs));
  } catch (e) {
    if (e instanceof ServeConfigError) throw e;
    fail(`${abs}: ${(e as Error).message}`);
  }
}

/** The named executors of a serve config file, without resolving any of its secrets. */
export function readServeExecutors(file: string): Record<string, NamedExecutorConfig> {
  return readConfigFile(path.resolve(file)).executors ?? {};
}

export function resolveSecret(
  ref: z.infer<typeof secretRef>,
  what: string,
  env: NodeJS.ProcessEnv,
  base: string,
): string {
  if ("env" in ref) {
    const v = env[ref.env];
    if (!v) fail(`${what}: environment variable ${ref.env} is not set`);
    return v;
  }
  const file = path.resolve(base, ref.file);
  try {
    const v = readFileSync(file, "utf8").trim();
    if (!v) fail(`${what}: file ${file} is empty`);
    return v;
  } catch (e) {
    if (e instanceof ServeConfigError) throw e;
    fail(`${what}: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? "error"})`);
  }
}
