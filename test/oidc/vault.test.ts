// Secrets from Vault with no Vault credential in Airlock, end to end: `airlock serve` publishes
// the issuer (discovery + JWKS) over HTTP, the Vault double's JWT auth (checked against Vault's
// API description) verifies through it, and `airlock run` logs in to Vault with the job's own ID
// token under a role bound to its claims, reads the set for the job, and revokes the login.
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { after, before, describe, test } from "node:test";
import { show } from "../support/cli.js";
import { Project, runIdOf } from "../support/project.js";
import type { VaultDouble } from "../vault/double.js";
import { assertNoViolations, SECRETS_V2, world } from "../vault/helpers.js";

const PIPELINE = `version: 1
secrets:
  functional-tests:
    vault:
      path: secret/data/functional-tests
      auth: { method: id-token, role: functional-tests }
jobs:
  functional:
    secrets: [functional-tests]
    run: printf 'rev %s\\n' "$(printf %s "$AWS_SECRET_ACCESS_KEY" | rev)"
`;

async function vaultWrite(vault: VaultDouble, path: string, body: unknown): Promise<void> {
  const res = await fetch(`${vault.address}/v1/${path}`, {
    method: "POST",
    headers: { "x-vault-token": vault.rootToken, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  assert.ok(res.ok, `POST ${path}: ${res.status} ${await res.text()}`);
}

/** `airlock serve` on a free port; resolves with its URL (from its log line). */
function serve(project: Project): Promise<{ url: string; child: ChildProcess }> {
  const child = project.spawn(["serve", "--listen", "127.0.0.1:0"]);
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout!.setEncoding("utf8").on("data", (s: string) => {
      out += s;
      const m = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(out);
      if (m) resolve({ url: m[1]!, child });
    });
    child.on("exit", (code) => reject(new Error(`airlock serve exited (${code}): ${out}`)));
  });
}

describe("Vault login with the job's ID token, through airlock run", () => {
  let project: Project;
  let served: { url: string; child: ChildProcess };
  let vault: VaultDouble;

  before(async () => {
    project = new Project({ files: { ".airlock.yml": PIPELINE } });
    // The key exists before the issuer is first fetched (docs/oidc.md: set-up).
    const k = await project.cli(["oidc", "rotate", "--now"]);
    assert.equal(k.code, 0, show(k));
    served = await serve(project);
    ({ vault } = await world());
    await vaultWrite(vault, "auth/jwt/config", {
      oidc_discovery_url: served.url,
      bound_issuer: served.url,
    });
  });
  after(async () => {
    served?.child.kill("SIGTERM");
    await vault?.close();
    project?.cleanup();
  });

  const run = () =>
    project.cli(["run", "--plain"], {
      // VAULT_ADDR only: no VAULT_TOKEN, no AppRole, no JWT of Airlock's own.
      env: project.env({ VAULT_ADDR: vault.address, AIRLOCK_PUBLIC_URL: served.url }),
    });

  test("the role bound to the job's claims gives the job its secrets; the login dies with the job", async () => {
    await vaultWrite(vault, "auth/jwt/role/functional-tests", {
      role_type: "jwt",
      user_claim: "sub",
      bound_audiences: ["vault"],
      bound_claims: { job: "functional", source: "local" },
      token_policies: ["functional-tests-read"],
      token_ttl: "15m",
    });
    const r = await run();
    assert.equal(r.code, 0, show(r));
    const log = (await project.logs(runIdOf(r.stdout))).functional!;
    const value = [...(/^rev (\S+)$/m.exec(log)?.[1] ?? "")].reverse().join("");
    assert.equal(value, SECRETS_V2.AWS_SECRET_ACCESS_KEY);

    assert.equal(vault.jwtLogins.length, 1);
    const { claims } = vault.jwtLogins[0]!;
    assert.equal(claims.iss, served.url);
    assert.equal(claims.aud, "vault");
    assert.equal(claims.job, "functional");
    assert.equal(claims.run_id, runIdOf(r.stdout));
    const logins = vault.tokensWithMeta({ role: "functional-tests" });
    assert.equal(logins.length, 1);
    assert.equal(logins[0]!.revoked, true, "the job's Vault login is revoked when it ends");
    const audit = project.query<{ key: string }>(
      "select key from audit where action = 'id-token' and job_id = 'functional'",
    );
    assert.deepEqual(
      audit.map((a) => a.key),
      ["vault-login"],
    );
    assertNoViolations(vault);
  });

  test("a role bound to another job refuses this job's token: no secret", async () => {
    await vaultWrite(vault, "auth/jwt/role/functional-tests", {
      role_type: "jwt",
      user_claim: "sub",
      bound_audiences: ["vault"],
      bound_claims: { job: "deploy" },
      token_policies: ["functional-tests-read"],
    });
    const r = await run();
    assert.equal(r.code, 1, show(r));
    const log = (await project.logs(runIdOf(r.stdout))).functional!;
    assert.match(log, /claim "job" does not match/);
    assert.doesNotMatch(log, /^rev /m);
    assert.ok(!`${r.stdout}${r.stderr}${log}`.includes(SECRETS_V2.AWS_SECRET_ACCESS_KEY));
    assertNoViolations(vault);
  });

  test("the set cannot be read outside a job: Airlock holds no Vault credential", async () => {
    const r = await project.cli(["secrets", "list", "functional-tests"], {
      env: project.env({ VAULT_ADDR: vault.address }),
    });
    assert.notEqual(r.code, 0, show(r));
    assert.match(r.stderr, /each job's ID token/);
  });
});
