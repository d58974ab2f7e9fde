// The Vault client against the double: every operation Airlock uses, each request checked
// against Vault's OpenAPI description by the double.
import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";
import { VaultClient } from "../../src/secrets/vault/client.js";
import { VaultError } from "../../src/secrets/vault/errors.js";
import {
  assertNoViolations,
  rejects,
  SECRETS_V1,
  SECRETS_V2,
  SET_PATH,
  type World,
  world,
} from "./helpers.js";

let w: World;
let c: VaultClient;
before(async () => {
  w = await world();
  c = new VaultClient({ address: w.vault.address, token: w.airlockToken, backoffMs: 1 });
});
afterEach(() => assertNoViolations(w.vault));
after(() => w.vault.close());

describe("KV v2", () => {
  it("reads the latest version and a given version", async () => {
    const latest = await c.kv2Read("secret", SET_PATH);
    assert.deepEqual(latest?.data, SECRETS_V2);
    assert.equal(latest?.metadata.version, 2);
    const v1 = await c.kv2Read("secret", SET_PATH, 1);
    assert.deepEqual(v1?.data, SECRETS_V1);
    assert.equal(await c.kv2Read("secret", "absent"), null);
    assert.ok(
      w.vault.requests.some(
        (r) => r.path.endsWith("/data/functional-tests") && r.operationId === "kv-v2-read",
      ),
    );
  });

  it("writes with check-and-set, and a stale cas is refused with a clear message", async () => {
    const path = "cas-test";
    const first = await c.kv2Write("secret", path, { K: "value-one-111" }, 0);
    assert.equal(first.version, 1);
    const second = await c.kv2Write("secret", path, { K: "value-two-222" }, 1);
    assert.equal(second.version, 2);
    const e = await rejects(
      () => c.kv2Write("secret", path, { K: "value-three-333" }, 1),
      ["value-three-333"],
    );
    assert.ok(e instanceof VaultError);
    assert.equal(e.status, 400);
    assert.match(
      e.message,
      /^400 on secret\/data\/cas-test: someone else wrote a new version first/,
    );
    assert.equal(e.attempts, 1, "a cas refusal is not retried");
  });

  it("reads metadata and lists a folder", async () => {
    await c.kv2Write("secret", "team/a", { X: "1" });
    await c.kv2Write("secret", "team/sub/b", { X: "2" });
    const meta = await c.kv2ReadMetadata("secret", SET_PATH);
    assert.equal(meta?.current_version, 2);
    assert.deepEqual(Object.keys(meta?.versions ?? {}), ["1", "2"]);
    assert.deepEqual(await c.kv2List("secret", "team"), ["a", "sub/"]);
    assert.equal(await c.kv2ReadMetadata("secret", "absent"), null);
  });

  it("soft-deletes, undeletes and destroys versions", async () => {
    const c = new VaultClient({ address: w.vault.address, token: w.vault.rootToken });
    const p = "lifecycle";
    await c.kv2Write("secret", p, { V: "one-aaaaaa" });
    await c.kv2Write("secret", p, { V: "two-bbbbbb" });
    await c.kv2Write("secret", p, { V: "three-cccc" });
    await c.kv2DeleteLatest("secret", p);
    assert.equal(await c.kv2Read("secret", p), null, "the deleted latest version reads as absent");
    await c.kv2Undelete("secret", p, [3]);
    assert.equal((await c.kv2Read("secret", p))?.data.V, "three-cccc");
    await c.kv2DeleteVersions("secret", p, [1]);
    await c.kv2Destroy("secret", p, [2]);
    const meta = await c.kv2ReadMetadata("secret", p);
    assert.notEqual(meta?.versions["1"]?.deletion_time, "");
    assert.equal(meta?.versions["2"]?.destroyed, true);
    assert.equal(await c.kv2Read("secret", p, 2), null);
  });
});

describe("KV v1 and mounts", () => {
  it("writes and reads KV v1", async () => {
    await c.kv1Write("kv", "legacy/app", { TOKEN: "legacy-value-12345" });
    assert.deepEqual(await c.kv1Read("kv", "legacy/app"), { TOKEN: "legacy-value-12345" });
    assert.equal(await c.kv1Read("kv", "legacy/none"), null);
  });

  it("detects the mount and the KV version", async () => {
    assert.deepEqual(await c.mountInfo("secret/data/functional-tests"), {
      mount: "secret",
      type: "kv",
      kvVersion: 2,
    });
    assert.deepEqual(await c.mountInfo("kv/legacy/app"), { mount: "kv", type: "kv", kvVersion: 1 });
    assert.deepEqual(await c.mountInfo("aws/creds/ci-role"), { mount: "aws", type: "aws" });
  });
});

describe("login and tokens", () => {
  it("logs in with AppRole and with a JWT", async () => {
    w.vault.addAppRole("role-id-1", "secret-id-xyz-123", ["functional-tests-read"]);
    w.vault.addJwtRole("ci", "eyJhbGciOi.fake.jwt", ["functional-tests-read"]);
    const anon = new VaultClient({ address: w.vault.address });
    const a = await anon.loginAppRole("role-id-1", "secret-id-xyz-123");
    assert.ok(a.policies.includes("functional-tests-read"));
    const j = await anon.loginJwt("ci", "eyJhbGciOi.fake.jwt");
    const viaJwt = anon.withToken(j.client_token);
    assert.deepEqual((await viaJwt.kv2Read("secret", SET_PATH))?.data, SECRETS_V2);
    const e = await rejects(
      () => anon.loginAppRole("role-id-1", "wrong-secret-id-777"),
      ["wrong-secret-id-777", "secret-id-xyz-123"],
    );
    assert.match(e.message, /^400 on auth\/approle\/login/);
  });

  it("creates a child token, looks it up, renews, and revokes it three ways", async () => {
    const child = await c.createToken({
      policies: ["functional-tests-read"],
      ttl: "120s",
      numUses: 10,
      meta: { run: "r1", job: "j1" },
      displayName: "airlock-j1",
      noDefaultPolicy: false,
      renewable: true,
    });
    assert.deepEqual(w.vault.tokenInfo(child.client_token)?.meta, { run: "r1", job: "j1" });
    const jc = c.withToken(child.client_token);
    const self = await jc.lookupSelf();
    assert.equal(self.accessor, child.accessor);
    assert.deepEqual(self.policies.sort(), ["default", "functional-tests-read"]);
    await jc.renewSelf("60s");
    await c.renewToken(child.client_token, "60s");
    await c.revokeAccessor(child.accessor);
    assert.equal(w.vault.tokenValid(child.client_token), false);

    const t2 = await c.createToken({ policies: ["functional-tests-read"], ttl: "60s", numUses: 5 });
    await c.revokeToken(t2.client_token);
    assert.equal(w.vault.tokenValid(t2.client_token), false);

    const t3 = await c.createToken({
      policies: ["functional-tests-read"],
      ttl: "60s",
      numUses: 5,
      noDefaultPolicy: false,
    });
    await c.withToken(t3.client_token).revokeSelf();
    assert.equal(w.vault.tokenValid(t3.client_token), false);
  });

  it("sends X-Vault-Namespace when configured", async () => {
    w.vault.namespace = "team-a";
    try {
      const ns = new VaultClient({
        address: w.vault.address,
        token: w.airlockToken,
        namespace: "team-a",
      });
      assert.ok(await ns.kv2Read("secret", SET_PATH));
      const noNs = new VaultClient({ address: w.vault.address, token: w.airlockToken, retries: 0 });
      const e = await rejects(() => noNs.kv2Read("secret", SET_PATH), w.secrets);
      assert.equal((e as VaultError).status, 403);
    } finally {
      w.vault.namespace = undefined;
    }
    assert.equal(w.vault.requests.filter((r) => r.namespace === "team-a").length >= 1, true);
  });
});

describe("leases, wrapping and system", () => {
  it("reads a dynamic secret and revokes its lease", async () => {
    const r = await c.readDynamic("aws/creds/ci-role");
    assert.match(String(r.data.access_key), /^AKIA/);
    assert.ok(r.lease_id.startsWith("aws/creds/ci-role/"));
    assert.equal(w.vault.leases.get(r.lease_id)?.revoked, false);
    await c.revokeLease(r.lease_id);
    assert.equal(w.vault.leases.get(r.lease_id)?.revoked, true);
  });

  it("wraps a response and unwraps it exactly once", async () => {
    const wrap = await c.readWrapped(`secret/data/${SET_PATH}`, "60s");
    assert.equal(wrap.creation_path, `secret/data/${SET_PATH}`);
    assert.ok(w.vault.requests.some((r) => r.wrapTtl === "60s"));
    const anon = new VaultClient({ address: w.vault.address, retries: 0 });
    const opened = await anon.unwrap<{ data: Record<string, string> }>(wrap.token);
    assert.deepEqual(opened.data.data, SECRETS_V2);
    const e = await rejects(() => anon.unwrap(wrap.token), [wrap.token, ...w.secrets]);
    assert.match(e.message, /^400 on sys\/wrapping\/unwrap/);
  });

  it("reports seal status, reads policies and capabilities", async () => {
    assert.equal((await c.sealStatus()).sealed, false);
    assert.match(
      (await c.readPolicy("functional-tests-read"))?.policy ?? "",
      /secret\/data\/functional-tests/,
    );
    assert.equal(await c.readPolicy("no-such-policy"), null);
    const caps = await c.capabilitiesSelf(["aws/creds/ci-role", "secret/data/x"]);
    assert.deepEqual(caps["aws/creds/ci-role"], ["read"]);
  });
});

describe("the oracle", () => {
  it("flags a request that is not in Vault's API description", async () => {
    const res = await fetch(`${w.vault.address}/v1/secret/nonsense/x`, {
      headers: { "X-Vault-Token": w.airlockToken },
    });
    await res.text();
    assert.equal(res.status, 405);
    assert.equal(w.vault.violations.length, 1);
    assert.match(w.vault.violations[0]!, /GET \/v1\/secret\/nonsense\/x/);
    w.vault.violations.length = 0;
  });

  it("flags a misspelt body field and an undescribed query parameter", async () => {
    const r1 = await fetch(`${w.vault.address}/v1/auth/token/create`, {
      method: "POST",
      headers: { "X-Vault-Token": w.airlockToken },
      body: JSON.stringify({ policies: ["functional-tests-read"], num_use: 3 }),
    });
    await r1.text();
    const r2 = await fetch(`${w.vault.address}/v1/secret/data/${SET_PATH}?versoin=1`, {
      headers: { "X-Vault-Token": w.airlockToken },
    });
    await r2.text();
    assert.equal(w.vault.violations.length, 2);
    assert.match(w.vault.violations[0]!, /token-create.*num_use/);
    assert.match(w.vault.violations[1]!, /query parameter "versoin"/);
    w.vault.violations.length = 0;
  });

  it("does not take a KV v2 path for a KV v1 one", async () => {
    const r = await fetch(`${w.vault.address}/v1/secret/functional-tests`, {
      headers: { "X-Vault-Token": w.airlockToken },
    });
    await r.text();
    assert.equal(w.vault.violations.length, 1);
    w.vault.violations.length = 0;
  });
});
