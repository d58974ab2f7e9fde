// Configuration of `airlock serve`: GitHub App identity, webhook secrets, API URL, data directory
// and listen address, from an optional YAML/JSON file and the environment (which wins).
// Secret values come only from the environment or from files: the config file names where they
// are, never what they are, and no error message or log line ever quotes one.
import { createPrivateKey } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { inspect } from "node:util";
import { parse as parseYaml } from "yaml";
import { z } from "zod";

export class ServeConfigError extends Error {}

export interface ServeConfig {
  appId: number;
  /** PEM of the App's private key. */
  privateKey: string;
  /** Current secret first; older ones still accepted during a rotation. */
  webhookSecrets: string[];
  /** REST API root: https://api.github.com or https://HOST/api/v3 for Enterprise Server. */
  apiUrl: string;
  dataDir: string;
  listen: { host: string; port: number };
  configFile: string | null;
}

const secretRef = z.union([
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
      })
      .strict()
      .optional(),
    data_dir: z.string().optional(),
    listen: z.string().optional(),
  })
  .strict();

type FileConfig = z.infer<typeof fileSchema>;

function fail(msg: string): never {
  throw new ServeConfigError(msg);
}

function readConfigFile(file: string): FileConfig {
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
  if (Array.isArray(gh?.webhook_secrets) && gh.webhook_secrets.some((s) => typeof s === "string")) {
    fail(
      `${file}: github.webhook_secrets must not hold secret values; list { env: VAR } or { file: PATH } entries`,
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

function resolveSecret(
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

function parseListen(s: string, source: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:]+)\]|([^:\s]+)):(\d{1,5})$/.exec(s.trim());
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || port > 65535) fail(`${source}: listen must be HOST:PORT, e.g. 127.0.0.1:8080`);
  return { host: (m[1] ?? m[2])!, port };
}

function checkPrivateKey(pem: string, source: string): void {
  try {
    const key = createPrivateKey(pem);
    if (key.asymmetricKeyType !== "rsa") fail(`${source}: the GitHub App key must be an RSA key`);
  } catch (e) {
    if (e instanceof ServeConfigError) throw e;
    fail(`${source} is not a PEM private key; download one from the GitHub App's settings page`);
  }
}

export interface LoadOptions {
  /** Path of a YAML or JSON config file; optional when the environment says everything. */
  file?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/**
 * Environment variables (each overrides the file):
 * AIRLOCK_GITHUB_APP_ID, AIRLOCK_GITHUB_PRIVATE_KEY (PEM) or AIRLOCK_GITHUB_PRIVATE_KEY_FILE,
 * AIRLOCK_WEBHOOK_SECRET and AIRLOCK_WEBHOOK_SECRET_PREVIOUS (rotation), AIRLOCK_GITHUB_API_URL,
 * AIRLOCK_LISTEN, AIRLOCK_HOME (data directory).
 */
export function loadServeConfig(opts: LoadOptions = {}): ServeConfig {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const configFile = opts.file ? path.resolve(cwd, opts.file) : null;
  const fc: FileConfig = configFile ? readConfigFile(configFile) : {};
  const base = configFile ? path.dirname(configFile) : cwd;
  const gh = fc.github ?? {};
  const where = configFile ?? "the environment";

  const appIdRaw = env.AIRLOCK_GITHUB_APP_ID || gh.app_id;
  if (appIdRaw === undefined) {
    fail(`no GitHub App id: set github.app_id in the serve config or AIRLOCK_GITHUB_APP_ID`);
  }
  const appId = Number(appIdRaw);
  if (!Number.isSafeInteger(appId) || appId <= 0) {
    fail(`the GitHub App id must be a positive integer (AIRLOCK_GITHUB_APP_ID / github.app_id)`);
  }

  let privateKey: string;
  let keySource: string;
  if (env.AIRLOCK_GITHUB_PRIVATE_KEY) {
    privateKey = env.AIRLOCK_GITHUB_PRIVATE_KEY.replace(/\\n/g, "\n");
    keySource = "AIRLOCK_GITHUB_PRIVATE_KEY";
  } else if (env.AIRLOCK_GITHUB_PRIVATE_KEY_FILE) {
    keySource = "AIRLOCK_GITHUB_PRIVATE_KEY_FILE";
    privateKey = resolveSecret({ file: env.AIRLOCK_GITHUB_PRIVATE_KEY_FILE }, keySource, env, cwd);
  } else if (gh.private_key) {
    keySource = `github.private_key in ${where}`;
    privateKey = resolveSecret(gh.private_key, keySource, env, base);
  } else {
    fail(
      "no GitHub App private key: set AIRLOCK_GITHUB_PRIVATE_KEY_FILE or github.private_key: { file: PATH }",
    );
  }
  checkPrivateKey(privateKey, keySource);

  let webhookSecrets: string[];
  if (env.AIRLOCK_WEBHOOK_SECRET) {
    webhookSecrets = [env.AIRLOCK_WEBHOOK_SECRET];
    if (env.AIRLOCK_WEBHOOK_SECRET_PREVIOUS)
      webhookSecrets.push(env.AIRLOCK_WEBHOOK_SECRET_PREVIOUS);
  } else if (gh.webhook_secrets) {
    webhookSecrets = gh.webhook_secrets.map((r, i) =>
      resolveSecret(r, `github.webhook_secrets[${i}] in ${where}`, env, base),
    );
  } else {
    fail(
      "no webhook secret: set AIRLOCK_WEBHOOK_SECRET or github.webhook_secrets in the serve config",
    );
  }

  const apiRaw = env.AIRLOCK_GITHUB_API_URL || gh.api_url || "https://api.github.com";
  let apiUrl: string;
  try {
    const u = new URL(apiRaw);
    if (u.protocol !== "https:" && u.protocol !== "http:") throw new Error();
    if (u.username || u.password) fail(`the GitHub API URL must not carry credentials`);
    apiUrl = u.toString().replace(/\/+$/, "");
  } catch (e) {
    if (e instanceof ServeConfigError) throw e;
    fail(`the GitHub API URL is not an http(s) URL; e.g. https://github.example.com/api/v3`);
  }

  const listen = parseListen(
    env.AIRLOCK_LISTEN || fc.listen || "127.0.0.1:8080",
    env.AIRLOCK_LISTEN ? "AIRLOCK_LISTEN" : where,
  );
  const dataDir = path.resolve(
    env.AIRLOCK_HOME ||
      (fc.data_dir ? path.resolve(base, fc.data_dir) : path.join(cwd, ".airlock")),
  );

  const config: ServeConfig = {
    appId,
    privateKey,
    webhookSecrets,
    apiUrl,
    dataDir,
    listen,
    configFile,
  };
  // Printing or serialising the config shows where things are, never secret values.
  Object.defineProperties(config, {
    toJSON: { value: () => describeServeConfig(config), enumerable: false },
    [inspect.custom]: { value: () => describeServeConfig(config), enumerable: false },
  });
  return config;
}

/** The config as it may be logged: secrets replaced by a count. */
export function describeServeConfig(c: ServeConfig): Record<string, unknown> {
  return {
    appId: c.appId,
    privateKey: "[set]",
    webhookSecrets: `[${c.webhookSecrets.length} set]`,
    apiUrl: c.apiUrl,
    dataDir: c.dataDir,
    listen: `${c.listen.host}:${c.listen.port}`,
    configFile: c.configFile,
  };
}
