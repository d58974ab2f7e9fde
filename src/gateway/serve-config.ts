// Configuration of `airlock serve`: GitHub App identity, webhook secrets, API URL, data directory,
// listen address and the console's sign-in settings, from an optional YAML/JSON file and the
// environment (which wins). Without any GitHub App setting, serve runs embedded: the console
// over the local data directory, and no webhook processing.
// Secret values come only from the environment or from files: the config file names where they
// are, never what they are, and no error message or log line ever quotes one.
import { createPrivateKey } from "node:crypto";
import path from "node:path";
import { inspect } from "node:util";
import type { NamedExecutorConfig } from "../config/executor-schema.js";
import type { DatabaseOptions } from "../store/index.js";
import { DatabaseSettingsError, resolveDatabase } from "../store/settings.js";
import { type Retention, resolveRetention } from "./retention.js";
import {
  type FileConfig,
  fail,
  readConfigFile,
  resolveSecret,
  ServeConfigError,
} from "./serve-config-file.js";
import { resolveLimits, type ServeLimits } from "./serve-limits.js";
import { resolveSettings, type ServeSettings } from "./serve-settings.js";
import { cloneBaseFromApi } from "./wiring.js";

export { ServeConfigError } from "./serve-config-file.js";

export interface ServeConfig {
  /** True when no GitHub App is configured: appId is 0, privateKey and webhookSecrets empty. */
  embedded: boolean;
  appId: number;
  /** PEM of the App's private key. */
  privateKey: string;
  /** Current secret first; older ones still accepted during a rotation. */
  webhookSecrets: string[];
  /** REST API root: https://api.github.com or https://HOST/api/v3 for Enterprise Server. */
  apiUrl: string;
  /** Where repositories are cloned from and PR links point: https://github.com or https://HOST. */
  cloneUrl: string;
  /** Airlock's external URL (check links, OAuth callback, secure cookies); none by default. */
  publicUrl?: string;
  /** Honour X-Forwarded-Proto/-Host: only behind a reverse proxy that sets them. */
  trustProxy: boolean;
  /** The OAuth client for "Sign in with GitHub" (the App's client id and secret). */
  oauth?: { clientId: string; clientSecret: string };
  dataDir: string;
  /** Where the state lives (`database:`, AIRLOCK_DATABASE_URL); none: the data directory's SQLite. */
  database?: DatabaseOptions;
  /** The project whose `.airlock.yml` the console's secrets inventory describes. */
  projectDir: string;
  listen: { host: string; port: number };
  configFile: string | null;
  /** Named executors jobs may choose (see docs/kubernetes.md). */
  executors: Record<string, NamedExecutorConfig>;
  /** Operational settings (serve-settings.ts). */
  settings: ServeSettings;
  /** What jobs' network must be: restricted jobs may be required to list where they connect. */
  egress: { requireAllowlist: boolean };
  /** Jobs' default and maximum limits, and how many run at once (serve-limits.ts). */
  limits: ServeLimits;
  /** How long finished records are kept, and how often they are pruned (retention.ts). */
  retention: Retention;
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

/** An http(s) URL (or file: where allowed) without credentials, trailing slashes removed. */
function httpUrl(raw: string, what: string, example: string, allowFile = false): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    fail(`${what} is not an http(s) URL; e.g. ${example}`);
  }
  if (u.protocol !== "https:" && u.protocol !== "http:" && !(allowFile && u.protocol === "file:")) {
    fail(`${what} is not an http(s) URL; e.g. ${example}`);
  }
  if (u.username || u.password) fail(`${what} must not carry credentials`);
  return u.toString().replace(/\/+$/, "");
}

function flag(v: string | undefined, name: string): boolean | undefined {
  if (v === undefined || v === "") return undefined;
  if (/^(1|true|yes|on)$/i.test(v)) return true;
  if (/^(0|false|no|off)$/i.test(v)) return false;
  fail(`${name} must be true or false`);
}

export interface LoadOptions {
  /** Path of a YAML or JSON config file; optional when the environment says everything. */
  file?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** The project directory (`-C`): its `.airlock` is the default data directory. */
  projectDir?: string;
  /** `--data-dir`: wins over everything else. */
  dataDir?: string;
  /** `--listen`: wins over everything else. */
  listen?: string;
}

/**
 * Environment variables (each overrides the file):
 * AIRLOCK_GITHUB_APP_ID, AIRLOCK_GITHUB_PRIVATE_KEY (PEM) or AIRLOCK_GITHUB_PRIVATE_KEY_FILE,
 * AIRLOCK_WEBHOOK_SECRET and AIRLOCK_WEBHOOK_SECRET_PREVIOUS (rotation), AIRLOCK_GITHUB_API_URL,
 * AIRLOCK_GITHUB_CLONE_URL, AIRLOCK_GITHUB_OAUTH_CLIENT_ID, AIRLOCK_GITHUB_OAUTH_CLIENT_SECRET,
 * AIRLOCK_PUBLIC_URL, AIRLOCK_TRUST_PROXY, AIRLOCK_LISTEN, AIRLOCK_HOME (data directory), and
 * AIRLOCK_EGRESS_REQUIRE_ALLOWLIST, and those of serve-settings.ts.
 * No App id, key or webhook secret anywhere: embedded mode (console only).
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
  const embedded =
    appIdRaw === undefined &&
    !env.AIRLOCK_GITHUB_PRIVATE_KEY &&
    !env.AIRLOCK_GITHUB_PRIVATE_KEY_FILE &&
    !gh.private_key &&
    !env.AIRLOCK_WEBHOOK_SECRET &&
    !gh.webhook_secrets;

  let appId = 0;
  let privateKey = "";
  let webhookSecrets: string[] = [];
  if (!embedded) {
    if (appIdRaw === undefined) {
      fail(`no GitHub App id: set github.app_id in the serve config or AIRLOCK_GITHUB_APP_ID`);
    }
    appId = Number(appIdRaw);
    if (!Number.isSafeInteger(appId) || appId <= 0) {
      fail(`the GitHub App id must be a positive integer (AIRLOCK_GITHUB_APP_ID / github.app_id)`);
    }

    let keySource: string;
    if (env.AIRLOCK_GITHUB_PRIVATE_KEY) {
      privateKey = env.AIRLOCK_GITHUB_PRIVATE_KEY.replace(/\\n/g, "\n");
      keySource = "AIRLOCK_GITHUB_PRIVATE_KEY";
    } else if (env.AIRLOCK_GITHUB_PRIVATE_KEY_FILE) {
      keySource = "AIRLOCK_GITHUB_PRIVATE_KEY_FILE";
      privateKey = resolveSecret(
        { file: env.AIRLOCK_GITHUB_PRIVATE_KEY_FILE },
        keySource,
        env,
        cwd,
      );
    } else if (gh.private_key) {
      keySource = `github.private_key in ${where}`;
      privateKey = resolveSecret(gh.private_key, keySource, env, base);
    } else {
      fail(
        "no GitHub App private key: set AIRLOCK_GITHUB_PRIVATE_KEY_FILE or github.private_key: { file: PATH }",
      );
    }
    checkPrivateKey(privateKey, keySource);

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
  }

  const apiUrl = httpUrl(
    env.AIRLOCK_GITHUB_API_URL || gh.api_url || "https://api.github.com",
    "the GitHub API URL",
    "https://github.example.com/api/v3",
  );
  const cloneUrl = httpUrl(
    env.AIRLOCK_GITHUB_CLONE_URL || gh.clone_url || cloneBaseFromApi(apiUrl),
    "the GitHub clone URL (AIRLOCK_GITHUB_CLONE_URL / github.clone_url)",
    "https://github.example.com",
    // A local mirror of the repositories (file:///srv/git) is a valid place to fetch from.
    true,
  );
  const publicRaw = env.AIRLOCK_PUBLIC_URL || fc.public_url;
  const publicUrl = publicRaw
    ? httpUrl(
        publicRaw,
        "the public URL (AIRLOCK_PUBLIC_URL / public_url)",
        "https://ci.example.org",
      )
    : undefined;
  const trustProxy =
    flag(env.AIRLOCK_TRUST_PROXY, "AIRLOCK_TRUST_PROXY") ?? fc.trust_proxy ?? false;
  const requireAllowlist =
    flag(env.AIRLOCK_EGRESS_REQUIRE_ALLOWLIST, "AIRLOCK_EGRESS_REQUIRE_ALLOWLIST") ??
    fc.egress?.require_allowlist ??
    false;

  let oauth: ServeConfig["oauth"];
  const clientId = env.AIRLOCK_GITHUB_OAUTH_CLIENT_ID || gh.oauth?.client_id;
  if (clientId) {
    let clientSecret: string;
    if (env.AIRLOCK_GITHUB_OAUTH_CLIENT_SECRET)
      clientSecret = env.AIRLOCK_GITHUB_OAUTH_CLIENT_SECRET;
    else if (gh.oauth?.client_secret) {
      clientSecret = resolveSecret(
        gh.oauth.client_secret,
        `github.oauth.client_secret in ${where}`,
        env,
        base,
      );
    } else {
      fail(
        "an OAuth client id without its secret: set AIRLOCK_GITHUB_OAUTH_CLIENT_SECRET or github.oauth.client_secret",
      );
    }
    if (embedded) {
      fail(
        "GitHub sign-in needs the GitHub App: set its id, private key and webhook secret too, or drop the OAuth client",
      );
    }
    oauth = { clientId, clientSecret };
  }

  const listen = parseListen(
    opts.listen || env.AIRLOCK_LISTEN || fc.listen || "127.0.0.1:8080",
    opts.listen ? "--listen" : env.AIRLOCK_LISTEN ? "AIRLOCK_LISTEN" : where,
  );
  const projectDir = path.resolve(cwd, opts.projectDir ?? ".");
  const dataDir = path.resolve(
    opts.dataDir
      ? path.resolve(cwd, opts.dataDir)
      : env.AIRLOCK_HOME ||
          (fc.data_dir ? path.resolve(base, fc.data_dir) : path.join(projectDir, ".airlock")),
  );

  let settings: ServeSettings;
  let limits: ServeLimits;
  let retention: Retention;
  try {
    settings = resolveSettings(fc, env);
    limits = resolveLimits(fc);
    retention = resolveRetention(fc.retention);
  } catch (e) {
    fail(`${where}: ${(e as Error).message}`);
  }

  let database: DatabaseOptions | undefined;
  try {
    database = resolveDatabase({ block: fc.database, env, base, source: where });
  } catch (e) {
    if (e instanceof DatabaseSettingsError) fail(e.message);
    throw e;
  }

  const config: ServeConfig = {
    embedded,
    appId,
    privateKey,
    webhookSecrets,
    apiUrl,
    cloneUrl,
    ...(publicUrl ? { publicUrl } : {}),
    trustProxy,
    ...(oauth ? { oauth } : {}),
    dataDir,
    ...(database ? { database } : {}),
    projectDir,
    listen,
    configFile,
    executors: fc.executors ?? {},
    settings,
    egress: { requireAllowlist },
    limits,
    retention,
  };
  // Printing or serialising the config shows where things are, never secret values.
  Object.defineProperties(config, {
    toJSON: { value: () => describeServeConfig(config), enumerable: false },
    [inspect.custom]: { value: () => describeServeConfig(config), enumerable: false },
  });
  return config;
}

/** A database URL as logs may show it: no password can be in it (refused), user and host kept. */
const databaseShown = (url: string) => url.replace(/\?.*$/, "");

/** The config as it may be logged: secrets replaced by a count. */
export function describeServeConfig(c: ServeConfig): Record<string, unknown> {
  return {
    mode: c.embedded ? "embedded (no GitHub App)" : "github-app",
    appId: c.appId,
    privateKey: c.embedded ? "[none]" : "[set]",
    webhookSecrets: `[${c.webhookSecrets.length} set]`,
    apiUrl: c.apiUrl,
    cloneUrl: c.cloneUrl,
    publicUrl: c.publicUrl ?? null,
    trustProxy: c.trustProxy,
    oauth: c.oauth ? { clientId: c.oauth.clientId, clientSecret: "[set]" } : null,
    dataDir: c.dataDir,
    database: c.database?.url ? databaseShown(c.database.url) : `sqlite:${c.dataDir}/airlock.db`,
    listen: `${c.listen.host}:${c.listen.port}`,
    configFile: c.configFile,
    executors: Object.fromEntries(Object.entries(c.executors).map(([n, e]) => [n, e.kind])),
    settings: c.settings,
    egress: c.egress,
    limits: c.limits,
    retention: c.retention,
  };
}
