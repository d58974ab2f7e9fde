// Serve configuration: file + environment, clear errors, and no secret value in any message,
// log line or serialisation.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { inspect } from "node:util";
import { loadServeConfig, ServeConfigError } from "../../src/gateway/serve-config.js";
import { compiled } from "../support/compiled.js";

const KEY = generateKeyPairSync("rsa", { modulusLength: 2048 })
  .privateKey.export({ type: "pkcs1", format: "pem" })
  .toString();
const SECRET_A = "webhook-secret-AAAA-1234";
const SECRET_B = "webhook-secret-BBBB-5678";
let dir: string;

before(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "airlock-cfg-"));
  writeFileSync(path.join(dir, "app.pem"), KEY, { mode: 0o600 });
  writeFileSync(path.join(dir, "hook.secret"), `${SECRET_B}\n`, { mode: 0o600 });
});
after(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const f = path.join(dir, name);
  writeFileSync(f, text);
  return f;
}

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ServeConfigError, String(e));
    return e.message;
  }
  assert.fail("expected a ServeConfigError");
}

test("the environment alone configures serve; two webhook secrets for rotation", () => {
  const c = loadServeConfig({
    env: {
      AIRLOCK_GITHUB_APP_ID: "123",
      AIRLOCK_GITHUB_PRIVATE_KEY: KEY,
      AIRLOCK_WEBHOOK_SECRET: SECRET_A,
      AIRLOCK_WEBHOOK_SECRET_PREVIOUS: SECRET_B,
      AIRLOCK_HOME: path.join(dir, "data"),
      AIRLOCK_LISTEN: "[::1]:9000",
    },
    cwd: dir,
  });
  assert.equal(c.appId, 123);
  assert.deepEqual(c.webhookSecrets, [SECRET_A, SECRET_B]);
  assert.equal(c.apiUrl, "https://api.github.com");
  assert.deepEqual(c.listen, { host: "::1", port: 9000 });
  assert.equal(c.dataDir, path.join(dir, "data"));
});

test("a YAML file references secrets by file and env; the environment overrides it", () => {
  const file = write(
    "serve.yml",
    `github:
  app_id: 42
  private_key: { file: app.pem }
  webhook_secrets: [{ env: HOOK_NEW }, { file: hook.secret }]
  api_url: https://ghe.example.com/api/v3/
listen: 0.0.0.0:8443
data_dir: ./state
`,
  );
  const c = loadServeConfig({ file, env: { HOOK_NEW: SECRET_A }, cwd: "/" });
  assert.equal(c.appId, 42);
  assert.equal(c.privateKey.trim(), KEY.trim());
  assert.deepEqual(c.webhookSecrets, [SECRET_A, SECRET_B]);
  assert.equal(c.apiUrl, "https://ghe.example.com/api/v3");
  assert.equal(c.dataDir, path.join(dir, "state"));
  assert.deepEqual(c.listen, { host: "0.0.0.0", port: 8443 });
  const o = loadServeConfig({ file, env: { HOOK_NEW: SECRET_A, AIRLOCK_GITHUB_APP_ID: "7" } });
  assert.equal(o.appId, 7);
});

test("printing or serialising the config never shows a secret", () => {
  const file = write(
    "s.json",
    JSON.stringify({
      github: {
        app_id: 1,
        private_key: { file: "app.pem" },
        webhook_secrets: [{ file: "hook.secret" }],
      },
    }),
  );
  const c = loadServeConfig({ file, env: {} });
  for (const text of [JSON.stringify(c), inspect(c), `${JSON.stringify({ config: c })}`]) {
    assert.doesNotMatch(text, /BEGIN RSA|webhook-secret/);
    assert.match(text, /webhookSecrets\W+\[1 set\]/);
  }
});

test("clear errors that name the problem and never quote a value", () => {
  const base = {
    AIRLOCK_GITHUB_APP_ID: "1",
    AIRLOCK_GITHUB_PRIVATE_KEY: KEY,
    AIRLOCK_WEBHOOK_SECRET: SECRET_A,
  };
  const cases: [Record<string, string>, RegExp, string?][] = [
    [{ ...base, AIRLOCK_GITHUB_APP_ID: "" }, /no GitHub App id/],
    [{ ...base, AIRLOCK_GITHUB_APP_ID: "abc" }, /positive integer/],
    [
      { ...base, AIRLOCK_GITHUB_PRIVATE_KEY: "not-a-key-SENSITIVE" },
      /not a PEM private key/,
      "SENSITIVE",
    ],
    [{ ...base, AIRLOCK_WEBHOOK_SECRET: "" }, /no webhook secret/],
    [
      { ...base, AIRLOCK_GITHUB_API_URL: "https://u:p4ss@ghe.example/api/v3" },
      /must not carry credentials/,
      "p4ss",
    ],
    [{ ...base, AIRLOCK_GITHUB_API_URL: "ftp://x" }, /not an http\(s\) URL/],
    [{ ...base, AIRLOCK_LISTEN: "8080" }, /HOST:PORT/],
    [
      {
        ...base,
        AIRLOCK_GITHUB_PRIVATE_KEY: "",
        AIRLOCK_GITHUB_PRIVATE_KEY_FILE: path.join(dir, "none.pem"),
      },
      /cannot read .*none\.pem \(ENOENT\)/,
    ],
  ];
  for (const [env, re, secret] of cases) {
    const msg = errorOf(() => loadServeConfig({ env, cwd: dir }));
    assert.match(msg, re);
    assert.doesNotMatch(msg, new RegExp(`BEGIN|${SECRET_A}${secret ? `|${secret}` : ""}`));
  }
});

test("a secret written in clear in the config file is refused without repeating it", () => {
  const f1 = write(
    "clear1.yml",
    `github:\n  app_id: 1\n  private_key: "-----BEGIN RSA PRIVATE KEY----- zzz"\n`,
  );
  const m1 = errorOf(() => loadServeConfig({ file: f1, env: {} }));
  assert.match(m1, /github\.private_key must not hold the key itself.*\{ file: PATH \}/);
  assert.doesNotMatch(m1, /zzz/);
  const f2 = write(
    "clear2.yml",
    `github:\n  app_id: 1\n  private_key: { file: app.pem }\n  webhook_secrets: [hunter2]\n`,
  );
  const m2 = errorOf(() => loadServeConfig({ file: f2, env: {} }));
  assert.match(m2, /webhook_secrets must not hold secret values/);
  assert.doesNotMatch(m2, /hunter2/);
  const f3 = write("typo.yml", `github:\n  app_id: 1\n  webhook_secret: [{ env: X }]\n`);
  assert.match(
    errorOf(() => loadServeConfig({ file: f3, env: {} })),
    /typo\.yml: github: Unrecognized key.*webhook_secret/,
  );
  const f4 = write("bad.yml", `github: [\n`);
  assert.match(
    errorOf(() => loadServeConfig({ file: f4, env: {} })),
    /not valid YAML/,
  );
  const f5 = write("envref.yml", `github:\n  app_id: 1\n  private_key: { env: NOPE_KEY }\n`);
  assert.match(
    errorOf(() => loadServeConfig({ file: f5, env: {} })),
    /environment variable NOPE_KEY is not set/,
  );
});

const CLI = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures", "serve-cli.ts");

function runCli(args: string[], env: Record<string, string>) {
  return spawn(process.execPath, [compiled(CLI), ...args], {
    env: { PATH: process.env.PATH ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
}

test("airlock serve: a bad config is one line on stderr, exit 2", async () => {
  const child = runCli(["serve"], { AIRLOCK_GITHUB_APP_ID: "1", AIRLOCK_WEBHOOK_SECRET: SECRET_A });
  let err = "";
  child.stderr.on("data", (d) => {
    err += d;
  });
  const code = await new Promise((r) => child.on("exit", r));
  assert.equal(code, 2);
  assert.match(err, /^airlock: no GitHub App private key: set AIRLOCK_GITHUB_PRIVATE_KEY_FILE/);
  assert.equal(err.trim().split("\n").length, 1);
  assert.doesNotMatch(err, new RegExp(SECRET_A));
});

test("airlock serve: starts, answers healthz, shuts down on SIGTERM; logs hold no secret", async () => {
  const child = runCli(["serve", "--listen", "127.0.0.1:0"], {
    AIRLOCK_GITHUB_APP_ID: "1",
    AIRLOCK_GITHUB_PRIVATE_KEY_FILE: path.join(dir, "app.pem"),
    AIRLOCK_WEBHOOK_SECRET: SECRET_A,
    AIRLOCK_HOME: path.join(dir, "serve-data"),
  });
  let out = "";
  child.stderr.on("data", (d) => {
    out += d;
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on("data", (d) => {
      out += d;
      const m = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once("exit", () => reject(new Error(`serve exited: ${out}`)));
  });
  assert.equal((await fetch(`${url}/healthz`)).status, 200);
  child.kill("SIGTERM");
  const code = await new Promise((r) => child.on("exit", r));
  assert.equal(code, 0);
  assert.match(out, /shutting down/);
  assert.doesNotMatch(out, new RegExp(`${SECRET_A}|BEGIN RSA`));
});

test("operational settings have defaults, come from the file, and the environment wins", () => {
  const env = {
    AIRLOCK_GITHUB_APP_ID: "1",
    AIRLOCK_GITHUB_PRIVATE_KEY: KEY,
    AIRLOCK_WEBHOOK_SECRET: SECRET_A,
  };
  assert.equal(loadServeConfig({ env, cwd: dir }).settings.trustCacheTtlMs, 60_000);
  const file = write("settings.yml", "trust_cache_ttl: 2m\n");
  assert.equal(loadServeConfig({ file, env }).settings.trustCacheTtlMs, 120_000);
  const over = { ...env, AIRLOCK_TRUST_CACHE_TTL: "15s" };
  assert.equal(loadServeConfig({ file, env: over }).settings.trustCacheTtlMs, 15_000);
  assert.match(
    errorOf(() => loadServeConfig({ env: { ...env, AIRLOCK_TRUST_CACHE_TTL: "soon" }, cwd: dir })),
    /AIRLOCK_TRUST_CACHE_TTL must be a duration such as "30s"/,
  );
  const bad = write("bad-settings.yml", "trust_cache_ttl: forever\n");
  assert.match(
    errorOf(() => loadServeConfig({ file: bad, env })),
    /trust_cache_ttl: expected a duration/,
  );

  // HTTP timeouts: documented defaults, the file, the environment; headers within the body's.
  assert.deepEqual(loadServeConfig({ env, cwd: dir }).settings.http, {
    headersMs: 10_000,
    requestMs: 60_000,
    idleMs: 75_000,
  });
  const timeouts = write(
    "timeouts.yml",
    "http_header_timeout: 5s\nhttp_body_timeout: 20s\nhttp_idle_timeout: 2m\n",
  );
  assert.deepEqual(
    loadServeConfig({ file: timeouts, env: { ...env, AIRLOCK_HTTP_BODY_TIMEOUT: "30s" } }).settings
      .http,
    { headersMs: 5_000, requestMs: 30_000, idleMs: 120_000 },
  );
  assert.match(
    errorOf(() =>
      loadServeConfig({ env: { ...env, AIRLOCK_HTTP_HEADER_TIMEOUT: "2m" }, cwd: dir }),
    ),
    /http_header_timeout must not be longer than http_body_timeout/,
  );
  assert.match(
    errorOf(() => loadServeConfig({ env: { ...env, AIRLOCK_HTTP_IDLE_TIMEOUT: "0s" }, cwd: dir })),
    /AIRLOCK_HTTP_IDLE_TIMEOUT must be at least 1s/,
  );
});
