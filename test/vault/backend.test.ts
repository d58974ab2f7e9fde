// The Vault secret backend: inject and token modes, dynamic leases, release that is never
// silently dropped, rotation and listing, against the Vault double.
import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";
import { type VaultSetInput, VaultSetSchema } from "../../src/config/vault-schema.js";
import type { GrantContext } from "../../src/secrets/types.js";
import { createVaultBackend, type VaultBackend } from "../../src/secrets/vault/backend.js";
import { VaultClient } from "../../src/secrets/vault/client.js";
import type { VaultConnection } from "../../src/secrets/vault/connection.js";
import type { VaultError } from "../../src/secrets/vault/errors.js";
import { VaultReleaseError } from "../../src/secrets/vault/release.js";
import {
  assertNoLeak,
  assertNoViolations,
  rejects,
  SECRETS_V1,
  SECRETS_V2,
  type World,
  world,
} from "./helpers.js";

let w: World;
const ctx: GrantContext = { runId: "run-7", jobId: "aws-infra", timeoutMs: 20 * 60_000 };

before(async () => {
  w = await world();
});
afterEach(() => assertNoViolations(w.vault));
after(() => w.vault.close());

function backend(
  sets: Record<string, VaultSetInput>,
  o: {
    connection?: Partial<VaultConnection>;
    report?: (m: string) => void;
    releaseAttempts?: number;
  } = {},
): VaultBackend {
  const parsed = Object.fromEntries(
    Object.entries(sets).map(([k, v]) => [k, VaultSetSchema.parse(v)]),
  );
  return createVaultBackend({
    sets: parsed,
    connection: { address: w.vault.address, token: w.airlockToken, ...o.connection },
    client: { backoffMs: 1, retries: 2 },
    releaseAttempts: o.releaseAttempts ?? 3,
    releaseBackoffMs: 1,
    report: o.report,
    now: () => w.vault.now(),
  });
}

describe("inject mode", () => {
  it("passes the current values and masks every live version", async () => {
    const b = backend({ ft: { path: "secret/data/functional-tests" } });
    const g = await b.grant("ft", ctx);
    assert.deepEqual(g.env, SECRETS_V2);
    const masked = new Set(g.mask.map((m) => m.value));
    for (const v of [...Object.values(SECRETS_V1), ...Object.values(SECRETS_V2)])
      assert.ok(masked.has(v));
    assert.deepEqual(new Set(g.mask.map((m) => m.name)), new Set(Object.keys(SECRETS_V2)));
    assert.equal(g.versions.AWS_ACCESS_KEY_ID, 2);
    await g.release();
    assert.ok(w.vault.requests.some((r) => r.operationId === "internal-ui-read-mount-information"));
  });

  it("leaves deleted and destroyed versions out of the mask", async () => {
    w.vault.kvPut("rotating", { K: "version-one-aaaa" });
    w.vault.kvPut("rotating", { K: "version-two-bbbb" });
    w.vault.kvPut("rotating", { K: "version-three-cc" });
    w.vault.kvPut("rotating", { K: "version-four-dddd" });
    const root = new VaultClient({ address: w.vault.address, token: w.vault.rootToken });
    await root.kv2DeleteVersions("secret", "rotating", [1]);
    await root.kv2Destroy("secret", "rotating", [2]);
    const g = await backend({ r: { path: "secret/rotating" } }).grant("r", ctx);
    assert.deepEqual(g.mask.map((m) => m.value).sort(), ["version-four-dddd", "version-three-cc"]);
  });

  it("maps keys to variables and delivers files", async () => {
    const b = backend({
      ft: {
        path: "secret/data/functional-tests",
        keys: { AWS_KEY: "AWS_ACCESS_KEY_ID", SCW_KEY_FILE: "SCALEWAY_SECRET_KEY" },
        files: ["SCW_KEY_FILE"],
      },
    });
    const g = await b.grant("ft", ctx);
    assert.deepEqual(g.env, { AWS_KEY: SECRETS_V2.AWS_ACCESS_KEY_ID });
    assert.deepEqual(g.files, [{ name: "SCW_KEY_FILE", value: SECRETS_V2.SCALEWAY_SECRET_KEY }]);
    assert.ok(
      g.mask.some((m) => m.name === "SCW_KEY_FILE" && m.value === SECRETS_V1.SCALEWAY_SECRET_KEY),
    );
    const bad = backend({ ft: { path: "secret/data/functional-tests", keys: { X: "NOT_THERE" } } });
    const e = await rejects(() => bad.grant("ft", ctx), w.secrets);
    assert.match(
      e.message,
      /maps X to "NOT_THERE", but secret\/data\/functional-tests has no such key; it has: AWS_ACCESS_KEY_ID/,
    );
  });

  it("reads KV v1, and skips detection when mount and version are configured", async () => {
    w.vault.kv1Put("legacy/ci", { LEGACY_TOKEN: "legacy-token-value-9" });
    const n = w.vault.requests.filter(
      (r) => r.operationId === "internal-ui-read-mount-information",
    ).length;
    const b = backend({ l: { path: "kv/legacy/ci", mount: "kv", kv_version: 1 } });
    const g = await b.grant("l", ctx);
    assert.deepEqual(g.env, { LEGACY_TOKEN: "legacy-token-value-9" });
    assert.equal(
      w.vault.requests.filter((r) => r.operationId === "internal-ui-read-mount-information").length,
      n,
    );
  });

  it("missing path: a clear 404 naming the path, nothing leaked", async () => {
    const b = backend({ m: { path: "secret/data/does-not-exist" } });
    const e = await rejects(() => b.grant("m", ctx), w.secrets);
    assert.match(e.message, /^404 on secret\/data\/does-not-exist: nothing at this path/);
  });

  it("policy denial on the set's path says which path and what to check", async () => {
    const limited = w.vault.mintToken({ policies: ["functional-tests-read"], ttlSec: 600 });
    const b = backend(
      { o: { path: "secret/data/other-team", mount: "secret", kv_version: 2 } },
      { connection: { token: limited.token } },
    );
    const e = await rejects(() => b.grant("o", ctx), [...w.secrets, limited.token]);
    assert.match(
      e.message,
      /^403 on secret\/data\/other-team: the token's policies do not allow read/,
    );
  });
});

describe("token mode", () => {
  const tokenSet: VaultSetInput = {
    path: "secret/data/functional-tests",
    mode: "token",
    policies: ["functional-tests-read"],
    num_uses: 20,
    ttl_margin: "5m",
  };

  it("the job's token reads its set, cannot read outside its policy, and dies at release", async () => {
    const b = backend({ ft: tokenSet });
    const g = await b.grant("ft", ctx);
    assert.equal(g.env.VAULT_ADDR, w.vault.address);
    const token = g.env.VAULT_TOKEN!;
    assert.ok(token);
    assert.equal(Object.keys(g.env).length, 2, "only VAULT_ADDR and VAULT_TOKEN");
    assert.deepEqual(g.overridable, [], "env_override cannot replace the job's token");
    assert.ok(g.mask.some((m) => m.name === "VAULT_TOKEN" && m.value === token));
    for (const v of Object.values(SECRETS_V1))
      assert.ok(
        g.mask.some((m) => m.value === v),
        "old versions masked",
      );

    const info = w.vault.tokenInfo(token)!;
    assert.deepEqual(
      info.policies,
      ["functional-tests-read"],
      "only the set's policies, no default",
    );
    assert.deepEqual(info.meta, { run: "run-7", job: "aws-infra", set: "ft" });
    assert.equal(info.numUses, 20);
    assert.equal(info.renewable, false);
    assert.equal(info.creationTtl, 20 * 60 + 5 * 60, "TTL = job timeout + margin");
    assert.equal(info.parent, w.airlockToken, "a child of Airlock's token");

    // What the job does with VAULT_ADDR/VAULT_TOKEN, as the seed team's tests do.
    const job = new VaultClient({ address: g.env.VAULT_ADDR!, token, retries: 0 });
    assert.deepEqual((await job.kv2Read("secret", "functional-tests"))?.data, SECRETS_V2);
    const denied = await rejects(() => job.kv2Read("secret", "other-team"), [...w.secrets, token]);
    assert.equal((denied as VaultError).status, 403);

    await g.release();
    assert.equal(w.vault.tokenValid(token), false);
    const after = await rejects(
      () => job.kv2Read("secret", "functional-tests"),
      [...w.secrets, token],
    );
    assert.equal((after as VaultError).status, 403);
    assert.match(after.message, /expired or was revoked/);
  });

  it("bounds the token's uses", async () => {
    const g = await backend({ ft: { ...tokenSet, num_uses: 2 } }).grant("ft", ctx);
    const job = new VaultClient({
      address: w.vault.address,
      token: g.env.VAULT_TOKEN!,
      retries: 0,
    });
    await job.kv2Read("secret", "functional-tests");
    await job.kv2Read("secret", "functional-tests");
    await rejects(() => job.kv2Read("secret", "functional-tests"), [g.env.VAULT_TOKEN!]);
    await g.release(); // already used up: release still succeeds
  });

  it("fails closed when Airlock cannot list versions (they could not be masked)", async () => {
    w.vault.setPolicy("airlock-no-meta", {
      "secret/data/*": ["read"],
      "auth/token/create": ["update"],
    });
    w.vault.setPolicy("ft-data-only", { "secret/data/functional-tests": ["read"] });
    const t = w.vault.mintToken({ policies: ["airlock-no-meta", "ft-data-only"], ttlSec: 600 });
    const b = backend(
      { ft: { ...tokenSet, policies: ["ft-data-only"], mount: "secret", kv_version: 2 } },
      { connection: { token: t.token } },
    );
    const created = w.vault.requests.filter((r) => r.operationId === "token-create").length;
    const e = await rejects(() => b.grant("ft", ctx), [...w.secrets, t.token]);
    assert.match(
      e.message,
      /403 on secret\/metadata\/functional-tests.*token mode needs Airlock to read secret\/metadata\/functional-tests/,
    );
    assert.equal(
      w.vault.requests.filter((r) => r.operationId === "token-create").length,
      created,
      "no token minted",
    );
    // Inject mode goes on with the current version and does not fail.
    const inj = backend(
      { ft: { path: "secret/data/functional-tests", mount: "secret", kv_version: 2 } },
      { connection: { token: t.token } },
    );
    const g = await inj.grant("ft", ctx);
    assert.deepEqual(g.env, SECRETS_V2);
    assert.match(
      g.notes.join("\n"),
      /only the current version of secret\/data\/functional-tests is masked/,
    );
  });

  it("token expired mid-job: the job sees a clear 403, release still succeeds", async () => {
    const g = await backend({ ft: { ...tokenSet, ttl_margin: "1s" } }).grant("ft", {
      ...ctx,
      timeoutMs: 1000,
    });
    const token = g.env.VAULT_TOKEN!;
    w.vault.advance(5000);
    const job = new VaultClient({ address: w.vault.address, token, retries: 0 });
    const e = await rejects(() => job.kv2Read("secret", "functional-tests"), [...w.secrets, token]);
    assert.match(
      e.message,
      /^403 on secret\/data\/functional-tests: .*the token has expired or was revoked/,
    );
    await g.release();
  });

  it("revocation failing is retried, then reported and thrown; a later release finishes it", async () => {
    const reports: string[] = [];
    const g = await backend({ ft: tokenSet }, { report: (m) => reports.push(m) }).grant("ft", ctx);
    const token = g.env.VAULT_TOKEN!;
    const accessor = w.vault.tokenInfo(token)!.accessor;
    const f = w.vault.fail({
      path: /^auth\/token\/revoke-accessor$/,
      status: 503,
      times: 1000,
      errors: ["Vault is sealed"],
    });
    const n = w.vault.requests.filter((r) => r.path.endsWith("revoke-accessor")).length;
    const e = await rejects(() => g.release(), [...w.secrets, token]);
    assert.ok(e instanceof VaultReleaseError);
    assert.match(
      e.message,
      new RegExp(
        `could not revoke the Vault token of job aws-infra \\(accessor ${accessor}\\) after 3 attempts: 503 .*Vault is sealed.*it expires by itself at .*vault token revoke -accessor ${accessor}`,
      ),
    );
    assert.equal(reports.length, 1);
    assert.equal(reports[0], e.message);
    assert.ok(
      w.vault.requests.filter((r) => r.path.endsWith("revoke-accessor")).length - n >= 3,
      "retried",
    );
    assert.equal(w.vault.tokenValid(token), true);
    f.times = 0;
    await g.release();
    assert.equal(w.vault.tokenValid(token), false);
  });

  it("Airlock's own AppRole login expiring mid-job is renewed to revoke the job's token", async () => {
    w.vault.addAppRole("airlock-role", "airlock-secret-id-000", [
      "airlock",
      "functional-tests-read",
    ]);
    const b = backend(
      { ft: { ...tokenSet, auth: { method: "approle" } } },
      {
        connection: { token: undefined, roleId: "airlock-role", secretId: "airlock-secret-id-000" },
      },
    );
    const g = await b.grant("ft", { ...ctx, timeoutMs: 2 * 3600_000 });
    const token = g.env.VAULT_TOKEN!;
    w.vault.advance(3700_000); // the login token (1 h) is gone, and its child with it
    assert.equal(w.vault.tokenValid(token), false);
    await g.release(); // logs in again; the accessor is already invalid: done
    const logins = w.vault.requests.filter((r) => r.operationId === "app-role-login").length;
    assert.equal(logins, 2);
    w.vault.advance(-3700_000);
  });

  it("JWT login works for a set", async () => {
    w.vault.addJwtRole("airlock-ci", "header.payload.signature-abc", [
      "airlock",
      "functional-tests-read",
    ]);
    const b = backend(
      { ft: { ...tokenSet, auth: { method: "jwt", role: "airlock-ci" } } },
      { connection: { token: undefined, jwt: "header.payload.signature-abc" } },
    );
    const g = await b.grant("ft", ctx);
    assert.ok(g.env.VAULT_TOKEN);
    await g.release();
  });
});

describe("dynamic secrets", () => {
  it("takes a lease for the job, masks the credentials and revokes the lease at release", async () => {
    const b = backend({
      ft: {
        path: "secret/data/functional-tests",
        keys: { SCALEWAY_SECRET_KEY: "SCALEWAY_SECRET_KEY" },
        dynamic: [
          {
            path: "aws/creds/ci-role",
            keys: { AWS_ACCESS_KEY_ID: "access_key", AWS_SECRET_ACCESS_KEY: "secret_key" },
          },
        ],
      },
    });
    const g = await b.grant("ft", ctx);
    assert.match(g.env.AWS_ACCESS_KEY_ID!, /^AKIA/);
    assert.ok(g.mask.some((m) => m.value === g.env.AWS_SECRET_ACCESS_KEY));
    const leaseId = String(g.versions["aws/creds/ci-role"]).replace(/^lease:/, "");
    assert.equal(w.vault.leases.get(leaseId)?.revoked, false);
    await g.release();
    assert.equal(w.vault.leases.get(leaseId)?.revoked, true);
  });

  it("a grant that fails half-way revokes what it created", async () => {
    const b = backend({
      ft: {
        path: "secret/data/functional-tests",
        mode: "token",
        policies: ["functional-tests-read"],
        dynamic: [{ path: "aws/creds/no-such-role", keys: { K: "access_key" } }],
      },
    });
    const e = await rejects(() => b.grant("ft", { ...ctx, jobId: "half-way" }), w.secrets);
    assert.match(e.message, /^400 on aws\/creds\/no-such-role/);
    const revoked = w.vault.requests
      .filter((r) => r.operationId === "token-revoke-accessor")
      .at(-1);
    assert.equal(revoked?.status, 204, "the job token minted before the failure was revoked");
  });
});

describe("list, rotate and reminders", () => {
  it("lists keys with versions, never values", async () => {
    const list = await backend({ ft: { path: "secret/data/functional-tests", files: [] } }).list(
      "ft",
    );
    assert.deepEqual(list.map((k) => k.key).sort(), Object.keys(SECRETS_V2).sort());
    assert.equal(list[0]!.version, 2);
    assert.deepEqual(list[0]!.versions, [1, 2]);
    assert.ok(list[0]!.updatedAt > 0);
    assertNoLeak(JSON.stringify(list), w.secrets);
  });

  it("rotates one key with check-and-set, keeping the others", async () => {
    w.vault.kvPut("rotate-me", { A: "alpha-value-1", B: "bravo-value-1" });
    const b = backend({ r: { path: "secret/data/rotate-me" } });
    const r = await b.rotate("r", "A", "alpha-value-2");
    assert.equal(r.version, 2);
    const v = w.vault.kvVersions("rotate-me")!.get(2)!;
    assert.deepEqual(v.data, { A: "alpha-value-2", B: "bravo-value-1" });
    const e = await rejects(
      () => b.rotate("r", "C", "charlie-value"),
      ["charlie-value", "alpha-value-2"],
    );
    assert.match(e.message, /^set "r" has no key "C" at secret\/data\/rotate-me \(it has: A, B\)/);
    // A writer that wins the race does not get overwritten: the rotation re-reads and retries.
    w.vault.fail({
      method: "POST",
      path: /^secret\/data\/rotate-me$/,
      status: 400,
      errors: ["check-and-set parameter did not match the current version"],
    });
    assert.equal((await b.rotate("r", "B", "bravo-value-2")).version, 3);
  });

  it("reminds when rotate_every has passed", async () => {
    w.vault.kvPut("old-secret", { K: "old-secret-value" });
    const forever = w.vault.mintToken({ policies: ["airlock"] }); // outlives the clock jump
    const b = backend(
      { o: { path: "secret/data/old-secret", rotate_every: "30d" } },
      { connection: { token: forever.token } },
    );
    assert.equal((await b.rotationStatus("o"))?.due, false);
    w.vault.advance(31 * 86_400_000);
    try {
      const s = await b.rotationStatus("o");
      assert.equal(s?.due, true);
      assert.match(
        s!.message,
        /last rotated 31 days ago; rotate_every is 30d \(1 days? overdue\)|overdue/,
      );
    } finally {
      w.vault.advance(-31 * 86_400_000);
    }
  });
});
