// `airlock doctor` for Vault: plain-word findings for a healthy set-up and for each way it breaks.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, describe, it } from "node:test";
import { Command } from "commander";
import { registerDoctor } from "../../src/cli/commands/doctor.js";
import { type VaultSetInput, VaultSetSchema } from "../../src/config/vault-schema.js";
import { checkVault, type DoctorCheck } from "../../src/secrets/vault/doctor.js";
import { git } from "../support/project.js";
import { assertNoLeak, assertNoViolations, deadAddress, type World, world } from "./helpers.js";

let w: World;
before(async () => {
  w = await world();
  w.vault.setPolicy("airlock-doctor", { "sys/capabilities-self": ["update"] });
});
afterEach(() => {
  w.vault.sealed = false;
  assertNoViolations(w.vault);
});
after(() => w.vault.close());

const sets = (s: Record<string, VaultSetInput>) =>
  Object.fromEntries(Object.entries(s).map(([k, v]) => [k, VaultSetSchema.parse(v)]));
const env = (extra: Record<string, string> = {}) => ({
  VAULT_ADDR: w.vault.address,
  VAULT_TOKEN: w.airlockToken,
  ...extra,
});
const fast = { client: { backoffMs: 1 } };
const text = (checks: DoctorCheck[]) =>
  checks.map((c) => `${c.status} ${c.subject}: ${c.message}`).join("\n");

const tokenSet: VaultSetInput = {
  path: "secret/data/functional-tests",
  mode: "token",
  policies: ["functional-tests-read"],
  dynamic: [{ path: "aws/creds/ci-role", keys: { AWS_ACCESS_KEY_ID: "access_key" } }],
  rotate_every: "30d",
};

describe("checkVault", () => {
  it("a healthy set-up: every check ok", async () => {
    const checks = await checkVault(sets({ ft: tokenSet }), env(), fast);
    const out = text(checks);
    assert.ok(
      checks.every((c) => c.status === "ok"),
      out,
    );
    assert.match(out, /Vault at http:\/\/127\.0\.0\.1:\d+ answers and is unsealed/);
    assert.match(out, /logged in by token with policies default, airlock, functional-tests-read/);
    assert.match(out, /secret\/data\/functional-tests \(KV v2\) is readable: 3 keys/);
    assert.match(out, /policy "functional-tests-read" exists/);
    assert.match(out, /dynamic path aws\/creds\/ci-role is readable/);
    assertNoLeak(out, w.secrets);
  });

  it("no VAULT_ADDR, Vault down, sealed", async () => {
    assert.match(
      text(await checkVault(sets({ ft: tokenSet }), {}, fast)),
      /^fail vault address: .*VAULT_ADDR is not set/,
    );
    const down = text(
      await checkVault(sets({ ft: tokenSet }), env({ VAULT_ADDR: await deadAddress() }), fast),
    );
    assert.match(down, /^fail vault address: .*cannot reach Vault at .*check VAULT_ADDR/);
    w.vault.sealed = true;
    assert.match(
      text(await checkVault(sets({ ft: tokenSet }), env(), fast)),
      /^fail vault address: Vault at .* is sealed: unseal it/,
    );
  });

  it("wrong token, unreadable path, missing policy, policy Airlock lacks", async () => {
    const bad = text(
      await checkVault(
        sets({ ft: tokenSet }),
        env({ VAULT_TOKEN: "hvs.notAValidTokenAtAll000" }),
        fast,
      ),
    );
    assert.match(bad, /fail set ft: Vault rejects Airlock's token \(VAULT_TOKEN\)/);
    assertNoLeak(bad, ["hvs.notAValidTokenAtAll000", ...w.secrets]);

    const wrongPath = text(
      await checkVault(sets({ o: { path: "secret/data/absent-secret" } }), env(), fast),
    );
    assert.match(
      wrongPath,
      /fail set o: cannot read secret\/data\/absent-secret: 404 on secret\/data\/absent-secret/,
    );

    w.vault.setPolicy("not-held", { "secret/data/x": ["read"] });
    const pol = text(
      await checkVault(
        sets({ ft: { ...tokenSet, policies: ["no-such-policy", "not-held"] } }),
        env(),
        fast,
      ),
    );
    assert.match(
      pol,
      /fail set ft: policy "no-such-policy" does not exist in Vault: create it with `vault policy write no-such-policy FILE`/,
    );
    assert.match(pol, /fail set ft: Airlock's token lacks policy "not-held"/);
  });

  it("reminds of a due rotation", async () => {
    const forever = w.vault.mintToken({
      policies: ["default", "airlock", "functional-tests-read"],
    });
    w.vault.advance(40 * 86_400_000);
    try {
      const out = text(
        await checkVault(sets({ ft: tokenSet }), env({ VAULT_TOKEN: forever.token }), {
          ...fast,
          now: () => w.vault.now(),
        }),
      );
      assert.match(
        out,
        /warn set ft: rotation due: last rotated 40 days ago; rotate_every is 30d .*airlock secrets rotate ft KEY/,
      );
    } finally {
      w.vault.advance(-40 * 86_400_000);
    }
  });
});

describe("airlock doctor", () => {
  it("prints the findings and exits 1 when something fails", async () => {
    const dir = mkdtempSync(join(tmpdir(), "airlock-doctor-"));
    const saved = { ...process.env };
    let out = "";
    try {
      writeFileSync(
        join(dir, ".airlock.yml"),
        [
          "version: 1",
          "secrets:",
          "  functional-tests:",
          "    backend: vault",
          "    vault: { path: secret/data/functional-tests }",
          "  missing:",
          "    backend: vault",
          "    vault: { path: secret/data/not-there }",
          "jobs:",
          "  functional:",
          "    secrets: [functional-tests, missing]",
          "    run: ./test.sh",
          "",
        ].join("\n"),
      );
      // A committed pipeline, so that the only problem left is the Vault set's.
      git(dir, "init", "-q", "-b", "main");
      git(dir, "add", ".airlock.yml");
      git(dir, "commit", "-q", "-m", "pipeline");
      process.env.AIRLOCK_HOME = join(dir, "data");
      process.env.VAULT_ADDR = w.vault.address;
      process.env.VAULT_TOKEN = w.airlockToken;
      const program = new Command("airlock").exitOverride();
      registerDoctor(program, (s) => {
        out += s;
      });
      await program.parseAsync(["node", "airlock", "doctor", "-C", dir]);
    } finally {
      process.env = saved;
      rmSync(dir, { recursive: true, force: true });
    }
    assert.equal(process.exitCode, 1);
    process.exitCode = 0;
    assert.match(out, /^ok {4}vault address: Vault at/m);
    assert.match(
      out,
      /^ok {4}set functional-tests: secret\/data\/functional-tests \(KV v2\) is readable/m,
    );
    assert.match(out, /^FAIL {2}set missing: cannot read secret\/data\/not-there: 404/m);
    assert.match(out, /1 problem to fix/);
    assertNoLeak(out, w.secrets);
  });
});
