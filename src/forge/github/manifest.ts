// Registering Airlock's GitHub App with GitHub's manifest flow: a manifest (permissions, events,
// webhook URL) posted from the browser creates the App in one click; GitHub then redirects with a
// one-time code that `POST /app-manifests/{code}/conversions` exchanges for the App's id, private
// key, webhook secret and OAuth client credentials. Those are written to files of mode 0600 and
// never printed.
import { createPrivateKey, randomBytes } from "node:crypto";
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  renameSync,
  writeSync,
} from "node:fs";
import path from "node:path";
import { api as apiPath, segment } from "./path.js";

export class ManifestError extends Error {}

/** The paths Airlock serves that GitHub must know about. */
export const WEBHOOK_PATH = "/webhooks/github";
export const OAUTH_CALLBACK_PATH = "/login/github/callback";
/** Where GitHub sends the browser with the code; the code is copied from the address bar. */
export const MANIFEST_REDIRECT_PATH = "/github-app/created";

/**
 * What the gateway needs. Issues write is for comments on pull requests (the PR comment API is
 * the issues API); members read is for org/team trust; statuses write is the fallback where
 * checks are not permitted.
 */
export const APP_PERMISSIONS = {
  checks: "write",
  contents: "read",
  pull_requests: "read",
  issues: "write",
  members: "read",
  statuses: "write",
  metadata: "read",
} as const;

/**
 * Events to subscribe to. `installation`, `installation_repositories` and `ping` are sent to
 * every App without a subscription, and GitHub refuses a manifest that lists them.
 * `organization`, `membership`, `member` and `team` report membership changes: trust answers
 * are forgotten at once, so a removed member cannot approve on a cached answer.
 */
export const APP_EVENTS = [
  "pull_request",
  "issue_comment",
  "check_run",
  "organization",
  "membership",
  "member",
  "team",
] as const;

export interface AppManifest {
  name: string;
  url: string;
  description: string;
  hook_attributes: { url: string; active: boolean };
  redirect_url: string;
  callback_urls: string[];
  public: boolean;
  default_permissions: Record<string, "read" | "write">;
  default_events: string[];
}

// GitHub App names: at most 34 characters; we keep to a conservative character set.
const APP_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9 ._-]{0,32}[A-Za-z0-9._-])?$/;
// GitHub logins: alphanumerics and single hyphens, at most 39 characters.
const LOGIN = /^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$/;

function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "");
  return h === "localhost" || h === "::1" || /^127(?:\.\d{1,3}){3}$/.test(h);
}

/**
 * Airlock's public base URL, e.g. https://airlock.example.org or https://example.org/airlock.
 * HTTPS is required (GitHub sends webhooks and browsers there) except on loopback, for trials.
 */
export function parseBaseUrl(raw: string, what = "--url"): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new ManifestError(
      `${what} is not a URL: give Airlock's address, e.g. https://airlock.example.org`,
    );
  }
  if (u.protocol !== "https:" && u.protocol !== "http:") {
    throw new ManifestError(`${what} must be an https:// URL, e.g. https://airlock.example.org`);
  }
  if (u.protocol === "http:" && !isLoopback(u.hostname)) {
    throw new ManifestError(
      `${what} must use https:// (GitHub sends webhook secrets and sign-ins there); plain http:// is only accepted for localhost`,
    );
  }
  if (u.username || u.password)
    throw new ManifestError(`${what} must not carry a user name or password`);
  if (u.search || u.hash) throw new ManifestError(`${what} must not have a query or a fragment`);
  return u.toString().replace(/\/+$/, "");
}

export function checkAppName(name: string): string {
  if (!APP_NAME.test(name)) {
    throw new ManifestError(
      "--name must be 1 to 34 letters, digits, spaces, '.', '_' or '-', starting with a letter or digit (e.g. --name \"Airlock CI\")",
    );
  }
  return name;
}

export function checkOrg(org: string): string {
  if (!LOGIN.test(org)) {
    throw new ManifestError(
      "--org must be a GitHub organization login: letters, digits and single hyphens (e.g. --org example-org)",
    );
  }
  return org;
}

/**
 * The host with dots as hyphens ("airlock-" prefixed when the host does not say it), cut to
 * GitHub's 34 characters: App names are unique across GitHub, so a bare "airlock" is taken.
 */
export function defaultAppName(baseUrl: string): string {
  const host = new URL(baseUrl).hostname.replace(/[^A-Za-z0-9]+/g, "-").replace(/^-+/, "");
  const name = /airlock/i.test(host) ? host : `airlock-${host}`;
  return name.slice(0, 34).replace(/-+$/, "");
}

export interface ManifestOptions {
  url: string;
  name?: string;
  public?: boolean;
}

export function buildManifest(o: ManifestOptions): AppManifest {
  const base = parseBaseUrl(o.url);
  const name = checkAppName(o.name ?? defaultAppName(base));
  return {
    name,
    url: base,
    description:
      "Airlock CI gateway: public jobs for every pull request; secret-bearing jobs only for commits a trusted member approved.",
    hook_attributes: { url: `${base}${WEBHOOK_PATH}`, active: true },
    redirect_url: `${base}${MANIFEST_REDIRECT_PATH}`,
    callback_urls: [`${base}${OAUTH_CALLBACK_PATH}`],
    public: o.public ?? false,
    default_permissions: { ...APP_PERMISSIONS },
    default_events: [...APP_EVENTS],
  };
}

/** The page the manifest form is posted to: a personal account, or an organization's settings. */
export function manifestPostUrl(o: { githubUrl?: string; org?: string }): string {
  const web = parseBaseUrl(o.githubUrl ?? "https://github.com", "--github-url");
  const where = o.org
    ? `/organizations/${segment(checkOrg(o.org))}/settings/apps/new`
    : "/settings/apps/new";
  return new URL(`${web}${where}`).toString();
}

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};
const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ESCAPES[c]!);

/** The form that starts the flow: the manifest travels as the hidden field `manifest`. */
export function manifestForm(manifest: AppManifest, postUrl: string): string {
  return [
    `<form id="airlock-manifest" action="${escapeHtml(postUrl)}" method="post">`,
    `  <input type="hidden" name="manifest" value="${escapeHtml(JSON.stringify(manifest))}">`,
    `  <button type="submit">Create the GitHub App ${escapeHtml(manifest.name)}</button>`,
    "</form>",
  ].join("\n");
}

/** A page that posts the manifest to GitHub as soon as it is opened. */
export function manifestPage(manifest: AppManifest, postUrl: string): string {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Register ${escapeHtml(manifest.name)} on GitHub</title></head>
<body>
<p>Sending Airlock's GitHub App manifest to GitHub…</p>
${manifestForm(manifest, postUrl)}
<script>document.getElementById("airlock-manifest").submit();</script>
</body>
</html>
`;
}

// ---------------------------------------------------------------------------------------------
// The conversion: code → App credentials.

export interface AppCredentials {
  id: number;
  slug: string;
  name: string;
  /** The App's page on GitHub, e.g. https://github.com/apps/airlock-example-org. */
  htmlUrl: string | null;
  owner: string | null;
  clientId: string;
  clientSecret: string;
  /** Null when GitHub set none (the App then has no webhook secret yet). */
  webhookSecret: string | null;
  pem: string;
}

// Codes GitHub hands out are short hex/alphanumeric tokens.
const CODE = /^[A-Za-z0-9_-]{1,200}$/;

export function checkCode(code: string): string {
  const c = code.trim();
  if (!CODE.test(c)) {
    throw new ManifestError(
      "the code is not one GitHub hands out: copy the value after ?code= in the address bar GitHub redirected to",
    );
  }
  return c;
}

const str = (v: unknown): v is string => typeof v === "string" && v.length > 0;

/** Exchanges the manifest code. No credential is needed: the code itself is the credential. */
export async function convertManifestCode(o: {
  code: string;
  apiUrl?: string;
  fetch?: typeof fetch;
  timeoutMs?: number;
}): Promise<AppCredentials> {
  const api = parseBaseUrl(o.apiUrl ?? "https://api.github.com", "--api-url");
  const url = `${api}${apiPath`/app-manifests/${checkCode(o.code)}/conversions`}`;
  let res: Response;
  try {
    res = await (o.fetch ?? fetch)(url, {
      method: "POST",
      headers: {
        accept: "application/vnd.github+json",
        "x-github-api-version": "2022-11-28",
        "user-agent": "airlock",
      },
      signal: AbortSignal.timeout(o.timeoutMs ?? 30_000),
    });
  } catch {
    throw new ManifestError(
      `GitHub's API at ${api} could not be reached; check --api-url and the network`,
    );
  }
  if (res.status === 404) {
    throw new ManifestError(
      "GitHub does not know this code: codes work once and expire after one hour; register the App again (airlock app manifest)",
    );
  }
  if (res.status !== 201) {
    throw new ManifestError(`GitHub refused the code (HTTP ${res.status}); register the App again`);
  }
  const body = (await res.json().catch(() => null)) as Record<string, unknown> | null;
  const owner = body?.owner as { login?: unknown } | undefined;
  if (
    !body ||
    !Number.isSafeInteger(body.id) ||
    !str(body.pem) ||
    !str(body.client_id) ||
    !str(body.client_secret) ||
    !(body.webhook_secret === null || str(body.webhook_secret))
  ) {
    throw new ManifestError("GitHub's answer lacks the App's id, key or client credentials");
  }
  try {
    if (createPrivateKey(body.pem).asymmetricKeyType !== "rsa") throw new Error();
  } catch {
    throw new ManifestError("GitHub's answer does not hold an RSA private key");
  }
  return {
    id: body.id as number,
    slug: str(body.slug) ? body.slug : String(body.id),
    name: str(body.name) ? body.name : "",
    htmlUrl: str(body.html_url) ? body.html_url : null,
    owner: str(owner?.login) ? owner.login : null,
    clientId: body.client_id,
    clientSecret: body.client_secret,
    webhookSecret: (body.webhook_secret as string | null) ?? null,
    pem: body.pem,
  };
}

// ---------------------------------------------------------------------------------------------
// Storing the credentials.

export const APP_DIR = "github-app";
export const FILES = {
  privateKey: "private-key.pem",
  webhookSecret: "webhook-secret",
  clientSecret: "client-secret",
  app: "app.json",
  serveConfig: "serve.yml",
} as const;

export interface StoredApp {
  dir: string;
  serveConfig: string;
  /** True when GitHub set no webhook secret and one was generated (to be entered on GitHub). */
  generatedWebhookSecret: boolean;
}

/** Writes a file with mode 0600: new files only, unless `replace` (then via a rename). */
function writePrivate(file: string, text: string, replace: boolean): void {
  const target = replace ? `${file}.${randomBytes(4).toString("hex")}.tmp` : file;
  let fd: number;
  try {
    fd = openSync(target, "wx", 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") {
      throw new ManifestError(
        `${file} already exists: it belongs to an App registered before; pass --force to replace it`,
      );
    }
    throw new ManifestError(
      `cannot write ${file} (${(e as NodeJS.ErrnoException).code ?? "error"})`,
    );
  }
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
  // The umask can only remove bits, but be explicit: these files hold credentials.
  chmodSync(target, 0o600);
  if (replace) renameSync(target, file);
}

const yamlString = (s: string) => JSON.stringify(s);

/**
 * Writes `<dataDir>/github-app/`: the private key, webhook secret and client secret (each 0600),
 * app.json (id, slug, client id: no secrets) and serve.yml, a config for `airlock serve --config`
 * that names those files.
 */
export function storeAppCredentials(
  dataDir: string,
  app: AppCredentials,
  o: { apiUrl?: string; force?: boolean } = {},
): StoredApp {
  const dir = path.join(path.resolve(dataDir), APP_DIR);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const replace = o.force === true;
  const api = parseBaseUrl(o.apiUrl ?? "https://api.github.com", "--api-url");
  const webhookSecret = app.webhookSecret ?? randomBytes(32).toString("hex");
  const at = (f: string) => path.join(dir, f);
  // Refuse before writing anything, so a refusal never leaves a half-replaced set of files.
  const taken = Object.values(FILES)
    .map(at)
    .find((f) => existsSync(f));
  if (taken && !replace) {
    throw new ManifestError(
      `${taken} already exists: it belongs to an App registered before; pass --force to replace it`,
    );
  }

  writePrivate(at(FILES.privateKey), app.pem.endsWith("\n") ? app.pem : `${app.pem}\n`, replace);
  writePrivate(at(FILES.webhookSecret), `${webhookSecret}\n`, replace);
  writePrivate(at(FILES.clientSecret), `${app.clientSecret}\n`, replace);
  const info = {
    id: app.id,
    slug: app.slug,
    name: app.name,
    owner: app.owner,
    html_url: app.htmlUrl,
    client_id: app.clientId,
    api_url: api,
  };
  writePrivate(at(FILES.app), `${JSON.stringify(info, null, 2)}\n`, replace);
  // Paths in a serve config are relative to the config file, so the folder can be moved whole.
  const serveYml = [
    `# airlock serve --config ${yamlString(at(FILES.serveConfig))}`,
    `# GitHub App ${yamlString(app.slug)} (id ${app.id}); OAuth client id ${yamlString(app.clientId)}.`,
    "github:",
    `  app_id: ${app.id}`,
    `  private_key: { file: ${FILES.privateKey} }`,
    "  webhook_secrets:",
    `    - { file: ${FILES.webhookSecret} }`,
    `  api_url: ${yamlString(api)}`,
    "data_dir: ..",
    "",
  ].join("\n");
  writePrivate(at(FILES.serveConfig), serveYml, replace);
  return {
    dir,
    serveConfig: at(FILES.serveConfig),
    generatedWebhookSecret: app.webhookSecret === null,
  };
}
