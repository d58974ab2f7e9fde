import assert from "node:assert/strict";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { Readable, Writable } from "node:stream";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { Command } from "commander";
import { type AppCommandIo, registerApp } from "../../src/cli/commands/app.js";
import { UserError } from "../../src/cli/errors.js";
import {
  APP_EVENTS,
  buildManifest,
  convertManifestCode,
  manifestPage,
  manifestPostUrl,
  parseBaseUrl,
} from "../../src/forge/github/manifest.js";
import { loadServeConfig } from "../../src/gateway/serve-config.js";

// GitHub's REST description: the oracle for permission names, webhook events and the
// conversion endpoint.
const DESCRIPTION = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  "../../../shared/oracles/github/api.github.com.json",
);
interface Desc {
  paths: Record<string, Record<string, { operationId: string; requestBody?: unknown }>>;
  "x-webhooks": Record<string, { post: Record<string, unknown> }>;
  components: {
    schemas: Record<string, { properties: Record<string, { enum?: string[] }> }>;
    examples: Record<string, { value: Record<string, unknown> }>;
  };
}
let desc: Desc;

const temps: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(path.join(tmpdir(), "airlock-manifest-"));
  temps.push(d);
  return d;
}

before(() => {
  desc = JSON.parse(readFileSync(DESCRIPTION, "utf8")) as Desc;
});
after(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

// ---- the manifest ------------------------------------------------------------------------------

test("the manifest asks for exactly the permissions the gateway needs, by GitHub's names", () => {
  const m = buildManifest({ url: "https://airlock.example.org" });
  assert.deepEqual(m.default_permissions, {
    checks: "write",
    contents: "read",
    pull_requests: "read",
    issues: "write",
    members: "read",
    statuses: "write",
    metadata: "read",
  });
  const known = desc.components.schemas["app-permissions"]!.properties;
  for (const [name, access] of Object.entries(m.default_permissions)) {
    assert.ok(known[name], `${name} is not a GitHub App permission`);
    assert.ok(known[name]!.enum?.includes(access), `${name}: ${access} is not an access level`);
  }
  assert.equal(m.public, false);
});

test("every subscribed event is a webhook event an App can subscribe to, whose permission it holds", () => {
  const m = buildManifest({ url: "https://airlock.example.org" });
  assert.deepEqual(m.default_events, [
    "pull_request",
    "issue_comment",
    "check_run",
    "organization",
    "membership",
    "member",
    "team",
  ]);
  const label: Record<string, string> = {
    Checks: "checks",
    Issues: "issues",
    "Pull requests": "pull_requests",
    Members: "members",
  };
  for (const event of m.default_events) {
    const hooks = Object.values(desc["x-webhooks"])
      .map((h) => h.post)
      .filter((p) => (p["x-github"] as { subcategory?: string })?.subcategory === event);
    assert.ok(hooks.length > 0, `${event} is not a webhook event`);
    const types = (hooks[0]!["x-github"] as { "supported-webhook-types": string[] })[
      "supported-webhook-types"
    ];
    assert.ok(
      types.includes("repository") || types.includes("app"),
      `${event} cannot be subscribed to`,
    );
    const text = hooks.map((h) => `${h.summary ?? ""} ${h.description ?? ""}`).join(" ");
    const needs =
      /at least read-level access for the "([^"]+)" (?:repository|organization) permission/.exec(
        text,
      );
    assert.ok(needs, `no permission named for ${event}`);
    assert.ok(m.default_permissions[label[needs[1]!]!], `${event} needs ${needs[1]}`);
  }
  // App-only events arrive without a subscription; GitHub refuses a manifest that lists them.
  for (const appOnly of ["installation", "installation_repositories", "ping"]) {
    assert.ok(!(APP_EVENTS as readonly string[]).includes(appOnly));
  }
});

test("the hook, redirect and OAuth callback URLs hang off Airlock's address", () => {
  const m = buildManifest({ url: "https://ci.example.org/airlock/", name: "Example CI" });
  assert.equal(m.name, "Example CI");
  assert.equal(m.url, "https://ci.example.org/airlock");
  assert.deepEqual(m.hook_attributes, {
    url: "https://ci.example.org/airlock/webhooks/github",
    active: true,
  });
  assert.equal(m.redirect_url, "https://ci.example.org/airlock/github-app/created");
  assert.deepEqual(m.callback_urls, ["https://ci.example.org/airlock/login/github/callback"]);
  assert.equal(buildManifest({ url: "https://airlock.example.org" }).name, "airlock-example-org");
  assert.equal(buildManifest({ url: "https://ci.example.org" }).name, "airlock-ci-example-org");
  assert.equal(buildManifest({ url: "http://[::1]:8080" }).name, "airlock-1");
});

test("plain http is refused except on loopback; odd URLs are refused", () => {
  for (const bad of [
    "http://airlock.example.org",
    "http://10.0.0.5:8080",
    "ftp://airlock.example.org",
    "airlock.example.org",
    "https://user:pw@airlock.example.org",
    "https://airlock.example.org/?x=1",
    "https://airlock.example.org/#frag",
  ]) {
    assert.throws(() => buildManifest({ url: bad }), /--url/, bad);
  }
  assert.throws(() => parseBaseUrl("http://airlock.example.org"), /must use https:\/\//);
  for (const ok of ["http://127.0.0.1:8080", "http://localhost:3000", "http://[::1]:8080"]) {
    assert.equal(buildManifest({ url: ok }).hook_attributes.url, `${ok}/webhooks/github`);
  }
});

test("bad App names and organizations are refused with the fix", () => {
  for (const bad of [
    "",
    " lead",
    "trail ",
    "x".repeat(35),
    'quote"d',
    "<script>",
    "a/b",
    "tab\tname",
  ]) {
    assert.throws(
      () => buildManifest({ url: "https://a.example.org", name: bad }),
      /--name must be 1 to 34/,
      JSON.stringify(bad),
    );
  }
  assert.equal(
    buildManifest({ url: "https://a.example.org", name: "x".repeat(34) }).name.length,
    34,
  );
  for (const bad of ["../evil", "-org", "org-", "a--b", "a b", "a".repeat(40), "org/x"]) {
    assert.throws(() => manifestPostUrl({ org: bad }), /--org must be/, bad);
  }
  assert.equal(manifestPostUrl({}), "https://github.com/settings/apps/new");
  assert.equal(
    manifestPostUrl({ org: "example-org" }),
    "https://github.com/organizations/example-org/settings/apps/new",
  );
  assert.equal(
    manifestPostUrl({ githubUrl: "https://github.example.com" }),
    "https://github.example.com/settings/apps/new",
  );
});

test("the HTML page carries the manifest intact in an escaped attribute and posts it", () => {
  const m = buildManifest({ url: "https://airlock.example.org/o'brien&co" });
  assert.match(m.hook_attributes.url, /o'brien&co/);
  const html = manifestPage(m, manifestPostUrl({ org: "example-org" }));
  const value = /name="manifest" value="([^"]*)"/.exec(html)?.[1];
  assert.ok(value, "hidden manifest field");
  assert.ok(!/[<>']/.test(value), "attribute value is escaped");
  const unescaped = value
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&");
  assert.deepEqual(JSON.parse(unescaped), m);
  assert.match(
    html,
    /<form id="airlock-manifest" action="https:\/\/github.com\/organizations\/example-org\/settings\/apps\/new" method="post">/,
  );
  assert.match(html, /document.getElementById\("airlock-manifest"\).submit\(\)/);
});

// ---- the CLI -----------------------------------------------------------------------------------

class Capture extends Writable {
  text = "";
  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

async function cli(args: string[], io: Partial<AppCommandIo> = {}) {
  const stdout = new Capture();
  const stderr = new Capture();
  const program = new Command("airlock").exitOverride();
  program.configureOutput({ writeOut: () => {}, writeErr: () => {} });
  registerApp(program, { stdout, stderr, env: {}, stdin: Readable.from([]), ...io });
  await program.parseAsync(args, { from: "user" });
  return { stdout: stdout.text, stderr: stderr.text };
}

test("`app manifest` prints JSON on stdout and where to post it on stderr", async () => {
  const out = await cli([
    "app",
    "manifest",
    "--url",
    "https://airlock.example.org",
    "--org",
    "acme",
  ]);
  assert.deepEqual(JSON.parse(out.stdout), buildManifest({ url: "https://airlock.example.org" }));
  assert.match(out.stderr, /https:\/\/github.com\/organizations\/acme\/settings\/apps\/new/);
  const page = await cli(["app", "manifest", "--url", "https://airlock.example.org", "--html"]);
  assert.match(page.stdout, /^<!doctype html>/);
  await assert.rejects(
    cli(["app", "manifest", "--url", "http://airlock.example.org"]),
    (e: unknown) => e instanceof UserError && /https/.test(e.message),
  );
  await assert.rejects(
    cli(["app", "manifest", "--url", "https://a.example.org", "--name", "bad<name>"]),
    (e: unknown) => e instanceof UserError && /--name/.test(e.message),
  );
});

// ---- the conversion, against a local GitHub that checks the request with the description ----------

interface FakeGitHub {
  url: string;
  requests: { method: string; path: string; body: string; headers: IncomingMessage["headers"] }[];
  violations: string[];
  answer: { status: number; body: unknown };
  close(): Promise<void>;
}

function templateRegex(template: string): RegExp {
  const escaped = template.replace(/[.*+?^$()|[\]\\]/g, "\\$&");
  return new RegExp(`^${escaped.replace(/\\?\{[^}]+\\?\}/g, "([^/]+)")}$`);
}

async function fakeGitHub(): Promise<FakeGitHub> {
  const f: FakeGitHub = {
    url: "",
    requests: [],
    violations: [],
    answer: { status: 500, body: {} },
    close: async () => {},
  };
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString("utf8");
    const url = new URL(req.url ?? "/", "http://x");
    f.requests.push({ method: req.method ?? "", path: url.pathname, body, headers: req.headers });
    // The operation the request must match in GitHub's description.
    const hit = Object.entries(desc.paths).find(
      ([template, item]) =>
        templateRegex(template).test(url.pathname) &&
        item[(req.method ?? "").toLowerCase()] !== undefined,
    );
    const op = hit?.[1][(req.method ?? "").toLowerCase()];
    if (!op) f.violations.push(`no operation ${req.method} ${url.pathname}`);
    else if (op.operationId !== "apps/create-from-manifest")
      f.violations.push(`unexpected ${op.operationId}`);
    if (body.length > 0 && !op?.requestBody) f.violations.push("the operation takes no body");
    if (req.headers.authorization) f.violations.push("the conversion needs no credential");
    if (url.search) f.violations.push("no query parameters are described");
    res.writeHead(f.answer.status, { "content-type": "application/json" });
    res.end(JSON.stringify(f.answer.body));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  f.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  f.close = () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return f;
}

function appAnswer(over: Record<string, unknown> = {}) {
  // GitHub's own example answer, with fresh secrets we can look for afterwards.
  const pem = generateKeyPairSync("rsa", { modulusLength: 2048 })
    .privateKey.export({ type: "pkcs1", format: "pem" })
    .toString();
  return {
    ...desc.components.examples["integration-from-manifest"]!.value,
    id: 31337,
    slug: "airlock-example-org",
    pem,
    webhook_secret: `whsec${randomBytes(16).toString("hex")}`,
    client_secret: `cs${randomBytes(20).toString("hex")}`,
    ...over,
  } as Record<string, unknown> & { pem: string; webhook_secret: string; client_secret: string };
}

const pemBody = (pem: string) => pem.split("\n")[1]!;

test("`app convert` stores the credentials with mode 0600 and prints no secret", async () => {
  const gh = await fakeGitHub();
  try {
    const answer = appAnswer();
    gh.answer = { status: 201, body: answer };
    const dataDir = path.join(tempDir(), "data");
    const out = await cli([
      "app",
      "convert",
      "a1b2c3d4e5",
      "--api-url",
      gh.url,
      "--data-dir",
      dataDir,
    ]);
    assert.deepEqual(gh.violations, []);
    assert.equal(gh.requests.length, 1);
    assert.equal(gh.requests[0]!.method, "POST");
    assert.equal(gh.requests[0]!.path, "/app-manifests/a1b2c3d4e5/conversions");

    const dir = path.join(dataDir, "github-app");
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    for (const f of [
      "private-key.pem",
      "webhook-secret",
      "client-secret",
      "app.json",
      "serve.yml",
    ]) {
      assert.equal(statSync(path.join(dir, f)).mode & 0o777, 0o600, f);
    }
    assert.equal(readFileSync(path.join(dir, "private-key.pem"), "utf8").trim(), answer.pem.trim());
    assert.equal(
      readFileSync(path.join(dir, "webhook-secret"), "utf8").trim(),
      answer.webhook_secret,
    );
    assert.equal(
      readFileSync(path.join(dir, "client-secret"), "utf8").trim(),
      answer.client_secret,
    );
    const info = JSON.parse(readFileSync(path.join(dir, "app.json"), "utf8"));
    assert.equal(info.id, 31337);
    assert.equal(info.client_id, answer.client_id);
    const everything = [
      out.stdout,
      out.stderr,
      readFileSync(path.join(dir, "app.json"), "utf8"),
      readFileSync(path.join(dir, "serve.yml"), "utf8"),
    ].join("\n");
    for (const secret of [pemBody(answer.pem), answer.webhook_secret, answer.client_secret]) {
      assert.ok(!everything.includes(secret), "a secret was printed or written in a config");
    }
    assert.match(out.stdout, /registered the GitHub App airlock-example-org \(id 31337/);
    assert.match(out.stdout, /airlock serve --config .*github-app\/serve\.yml/);
    assert.match(out.stdout, /https:\/\/github.com\/apps\/octoapp\/installations\/new/);

    // The config it wrote is one `airlock serve` accepts as it stands.
    const cfg = loadServeConfig({ file: path.join(dir, "serve.yml"), env: {} });
    assert.equal(cfg.appId, 31337);
    assert.equal(cfg.privateKey.trim(), answer.pem.trim());
    assert.deepEqual(cfg.webhookSecrets, [answer.webhook_secret]);
    assert.equal(cfg.apiUrl, gh.url);
    assert.equal(cfg.dataDir, dataDir);
  } finally {
    await gh.close();
  }
});

test("`app convert` reads the code from stdin and refuses to overwrite an App without --force", async () => {
  const gh = await fakeGitHub();
  try {
    gh.answer = { status: 201, body: appAnswer() };
    const dataDir = tempDir();
    const args = ["app", "convert", "--api-url", gh.url, "--data-dir", dataDir];
    await cli(args, { stdin: Readable.from(["c0ffee\n"]) });
    assert.equal(gh.requests[0]!.path, "/app-manifests/c0ffee/conversions");
    const first = readFileSync(path.join(dataDir, "github-app", "private-key.pem"), "utf8");

    const second = appAnswer({ id: 99 });
    gh.answer = { status: 201, body: second };
    await assert.rejects(
      cli(args, { stdin: Readable.from(["c0ffee2\n"]) }),
      (e: unknown) => e instanceof UserError && /already exists.*--force/.test(e.message),
    );
    assert.equal(readFileSync(path.join(dataDir, "github-app", "private-key.pem"), "utf8"), first);

    await cli([...args, "--force"], { stdin: Readable.from(["c0ffee3\n"]) });
    const key = path.join(dataDir, "github-app", "private-key.pem");
    assert.equal(readFileSync(key, "utf8").trim(), second.pem.trim());
    assert.equal(statSync(key).mode & 0o777, 0o600);
    assert.deepEqual(gh.violations, []);
  } finally {
    await gh.close();
  }
});

test("a missing webhook secret is generated into its file and the user told to enter it", async () => {
  const gh = await fakeGitHub();
  try {
    gh.answer = { status: 201, body: appAnswer({ webhook_secret: null }) };
    const dataDir = tempDir();
    const out = await cli(["app", "convert", "abc", "--api-url", gh.url, "--data-dir", dataDir]);
    const secret = readFileSync(path.join(dataDir, "github-app", "webhook-secret"), "utf8").trim();
    assert.match(secret, /^[0-9a-f]{64}$/);
    assert.ok(!out.stdout.includes(secret));
    assert.match(out.stdout, /GitHub set no webhook secret/);
  } finally {
    await gh.close();
  }
});

test("expired, malformed and unreachable codes give one clear message and write nothing", async () => {
  const gh = await fakeGitHub();
  try {
    gh.answer = { status: 404, body: { message: "Not Found" } };
    const dataDir = tempDir();
    await assert.rejects(
      cli(["app", "convert", "old", "--api-url", gh.url, "--data-dir", dataDir]),
      (e: unknown) => e instanceof UserError && /expire after one hour/.test(e.message),
    );
    gh.answer = {
      status: 201,
      body: { id: 1, pem: "not a key", client_id: "x", client_secret: "y", webhook_secret: "z" },
    };
    await assert.rejects(
      cli(["app", "convert", "bad", "--api-url", gh.url, "--data-dir", dataDir]),
      (e: unknown) => e instanceof UserError && /RSA private key/.test(e.message),
    );
    const before = gh.requests.length;
    for (const code of ["../../app/installations", "a?b=c", "a b"]) {
      await assert.rejects(
        cli(["app", "convert", code, "--api-url", gh.url, "--data-dir", dataDir]),
        (e: unknown) => e instanceof UserError && /\?code=/.test(e.message),
      );
    }
    assert.equal(gh.requests.length, before, "a malformed code never reaches GitHub");
    await assert.rejects(
      cli([
        "app",
        "convert",
        "x",
        "--api-url",
        "http://github.internal.example",
        "--data-dir",
        dataDir,
      ]),
      (e: unknown) => e instanceof UserError && /--api-url must use https/.test(e.message),
    );
    await assert.rejects(
      cli(["app", "convert", "--api-url", gh.url, "--data-dir", dataDir], {
        stdin: Readable.from([""]),
      }),
      (e: unknown) => e instanceof UserError && /no code given/.test(e.message),
    );
    assert.throws(() => statSync(path.join(dataDir, "github-app", "private-key.pem")));
    assert.deepEqual(gh.violations, []);
  } finally {
    await gh.close();
  }
  const closed = `http://127.0.0.1:${await freePort()}`;
  await assert.rejects(
    convertManifestCode({ code: "abc", apiUrl: closed, timeoutMs: 2000 }),
    /could not be reached/,
  );
});

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
