// The serve settings this command added: embedded mode, the public and clone URLs, the OAuth
// client (secret by reference only), trusting a proxy, and where the data directory is.
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { inspect } from "node:util";
import { loadServeConfig, ServeConfigError } from "../../src/gateway/serve-config.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "airlock-serve-cfg-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const KEY = generateKeyPairSync("rsa", { modulusLength: 2048 })
  .privateKey.export({ type: "pkcs1", format: "pem" })
  .toString();
const APP = { AIRLOCK_GITHUB_APP_ID: "9", AIRLOCK_GITHUB_PRIVATE_KEY: KEY };
const OAUTH_SECRET = "oauth-secret-Zk29Qp";

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ServeConfigError, String(e));
    return e.message;
  }
  assert.fail("expected a ServeConfigError");
}

test("no App setting at all is embedded mode, with the project's .airlock as data directory", () => {
  const c = loadServeConfig({ env: {}, cwd: dir, projectDir: "proj" });
  assert.equal(c.embedded, true);
  assert.deepEqual(c.webhookSecrets, []);
  assert.equal(c.dataDir, path.join(dir, "proj", ".airlock"));
  assert.equal(c.cloneUrl, "https://github.com");
  assert.equal(loadServeConfig({ env: { AIRLOCK_HOME: "/x/h" }, cwd: dir }).dataDir, "/x/h");
  assert.equal(
    loadServeConfig({ env: { AIRLOCK_HOME: "/x/h" }, cwd: dir, dataDir: "d" }).dataDir,
    path.join(dir, "d"),
  );
  assert.match(inspect(c), /embedded/);
});

test("public URL, clone URL, trust_proxy and the OAuth client from a file; the secret never shows", () => {
  writeFileSync(path.join(dir, "oauth.secret"), `${OAUTH_SECRET}\n`);
  const file = path.join(dir, "serve.yml");
  writeFileSync(
    file,
    `github:
  api_url: https://ghe.example.com/api/v3
  oauth: { client_id: Iv1.abc, client_secret: { file: oauth.secret } }
public_url: https://ci.example.org/
trust_proxy: true
`,
  );
  const c = loadServeConfig({ file, env: { ...APP, AIRLOCK_WEBHOOK_SECRET: "w" }, cwd: "/" });
  assert.equal(c.embedded, false);
  assert.equal(c.publicUrl, "https://ci.example.org");
  assert.equal(c.cloneUrl, "https://ghe.example.com");
  assert.equal(c.trustProxy, true);
  assert.deepEqual(c.oauth, { clientId: "Iv1.abc", clientSecret: OAUTH_SECRET });
  for (const text of [JSON.stringify(c), inspect(c)]) {
    assert.doesNotMatch(text, new RegExp(OAUTH_SECRET));
  }
  const env = loadServeConfig({
    env: {
      ...APP,
      AIRLOCK_WEBHOOK_SECRET: "w",
      AIRLOCK_GITHUB_CLONE_URL: "file:///srv/git",
      AIRLOCK_TRUST_PROXY: "false",
    },
    cwd: dir,
  });
  assert.equal(env.cloneUrl, "file:///srv/git");
  assert.equal(env.trustProxy, false);
});

test("mistakes are named, and secrets are never quoted", () => {
  const inline = path.join(dir, "inline.yml");
  writeFileSync(inline, `github:\n  oauth: { client_id: x, client_secret: "${OAUTH_SECRET}" }\n`);
  const m = errorOf(() => loadServeConfig({ file: inline, env: {} }));
  assert.match(m, /client_secret must not hold the secret itself/);
  assert.doesNotMatch(m, new RegExp(OAUTH_SECRET));
  assert.match(
    errorOf(() => loadServeConfig({ env: { AIRLOCK_PUBLIC_URL: "ci.example.org" } })),
    /public URL .* is not an http\(s\) URL/,
  );
  assert.match(
    errorOf(() => loadServeConfig({ env: { AIRLOCK_PUBLIC_URL: "https://u:pw@ci.example.org" } })),
    /must not carry credentials/,
  );
  assert.match(
    errorOf(() => loadServeConfig({ env: { AIRLOCK_TRUST_PROXY: "maybe" } })),
    /AIRLOCK_TRUST_PROXY must be true or false/,
  );
  assert.match(
    errorOf(() => loadServeConfig({ env: { AIRLOCK_GITHUB_OAUTH_CLIENT_ID: "Iv1.x" } })),
    /OAuth client id without its secret/,
  );
  assert.match(
    errorOf(() =>
      loadServeConfig({
        env: { AIRLOCK_GITHUB_OAUTH_CLIENT_ID: "Iv1.x", AIRLOCK_GITHUB_OAUTH_CLIENT_SECRET: "s" },
      }),
    ),
    /GitHub sign-in needs the GitHub App/,
  );
  // Half an App is not embedded mode: the missing part is named.
  assert.match(
    errorOf(() => loadServeConfig({ env: { AIRLOCK_WEBHOOK_SECRET: "w" } })),
    /no GitHub App id/,
  );
});

test("egress.require_allowlist from the file, overridden by AIRLOCK_EGRESS_REQUIRE_ALLOWLIST", () => {
  assert.deepEqual(loadServeConfig({ env: {}, cwd: dir }).egress, { requireAllowlist: false });
  const file = path.join(dir, "egress.yml");
  writeFileSync(file, "egress:\n  require_allowlist: true\n");
  assert.equal(loadServeConfig({ file, env: {} }).egress.requireAllowlist, true);
  assert.match(JSON.stringify(loadServeConfig({ file, env: {} })), /"requireAllowlist":true/);
  const off = loadServeConfig({ file, env: { AIRLOCK_EGRESS_REQUIRE_ALLOWLIST: "false" } });
  assert.equal(off.egress.requireAllowlist, false);
  writeFileSync(file, "egress:\n  require_allowlist: yes please\n");
  assert.match(
    errorOf(() => loadServeConfig({ file, env: {} })),
    /egress\.require_allowlist/,
  );
  writeFileSync(file, "egress:\n  allow: [x]\n");
  assert.match(
    errorOf(() => loadServeConfig({ file, env: {} })),
    /egress/,
  );
});
