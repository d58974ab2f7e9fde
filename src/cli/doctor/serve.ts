// What `airlock serve` would start with, checked without GitHub: the serve config's own
// validation (App id, private key PEM, webhook secrets, URLs), then the settings an operator
// gets wrong: no https public URL, a non-loopback listener, another data directory.
import { existsSync } from "node:fs";
import path from "node:path";
import { APP_DIR, FILES } from "../../forge/github/manifest.js";
import { loadServeConfig, type ServeConfig, ServeConfigError } from "../../gateway/serve-config.js";
import { type DoctorCheck, type DoctorContext, fail, ok, warn } from "./types.js";

const subject = "serve";
const APP_ENV = [
  "AIRLOCK_GITHUB_APP_ID",
  "AIRLOCK_GITHUB_PRIVATE_KEY",
  "AIRLOCK_GITHUB_PRIVATE_KEY_FILE",
  "AIRLOCK_WEBHOOK_SECRET",
];
const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);

/** The serve config to check: the one given, else the one `airlock app convert` writes. */
export function serveConfigFile(ctx: DoctorContext, given?: string): string | undefined {
  if (given) return path.resolve(given);
  const stored = path.join(ctx.dataDir, APP_DIR, FILES.serveConfig);
  return existsSync(stored) ? stored : undefined;
}

/**
 * The serve config this machine serves a GitHub App with; null when nothing says it does, a
 * ServeConfigError when it cannot be loaded.
 */
export function servedConfig(ctx: DoctorContext, given?: string): ServeConfig | null {
  const file = serveConfigFile(ctx, given);
  if (!file && !APP_ENV.some((v) => ctx.env[v])) return null;
  return loadServeConfig({ ...(file ? { file } : {}), env: ctx.env, projectDir: ctx.projectDir });
}

export function checkServe(ctx: DoctorContext, given?: string): DoctorCheck[] {
  const where = serveConfigFile(ctx, given) ?? "the environment";
  let c: ServeConfig | null;
  try {
    c = servedConfig(ctx, given);
  } catch (e) {
    // Its messages say where the setting is, never a secret's value.
    if (e instanceof ServeConfigError) return [fail(subject, e.message)];
    throw e;
  }
  // Nothing says this machine serves a GitHub App: nothing to check.
  if (!c) return [];
  if (c.embedded) {
    return [
      ok(subject, `${where} configures no GitHub App: \`airlock serve\` serves the console only`),
    ];
  }
  const out = [
    ok(
      subject,
      `${where}: GitHub App ${c.appId}, its private key is a valid PEM, ${c.webhookSecrets.length} webhook secret${c.webhookSecrets.length === 1 ? "" : "s"}`,
    ),
  ];
  if (c.webhookSecrets.some((s) => s.length < 20)) {
    out.push(
      warn(
        subject,
        "a webhook secret is shorter than 20 characters, so easier to guess: make one with `openssl rand -hex 32` and rotate it (docs/operations.md)",
      ),
    );
  }
  if (!c.publicUrl) {
    out.push(
      warn(
        subject,
        "no public URL: check runs cannot link to their logs and GitHub sign-in has no callback; set public_url (or AIRLOCK_PUBLIC_URL) to https://…",
      ),
    );
  } else if (!c.publicUrl.startsWith("https://")) {
    out.push(
      warn(
        subject,
        `the public URL ${c.publicUrl} is not https: sign-in cookies and links travel in clear; put Airlock behind a TLS proxy and use https://`,
      ),
    );
  }
  if (!LOOPBACK.has(c.listen.host)) {
    out.push(
      warn(
        subject,
        `listens on ${c.listen.host}:${c.listen.port}: keep it on 127.0.0.1 behind the TLS proxy, which also keeps /metrics private`,
      ),
    );
  }
  if (path.resolve(c.dataDir) !== path.resolve(ctx.dataDir)) {
    out.push(
      warn(
        subject,
        `airlock serve uses the data directory ${c.dataDir}, and these checks looked at ${ctx.dataDir}: run \`airlock doctor --data-dir ${c.dataDir}\` too`,
      ),
    );
  }
  return out;
}
