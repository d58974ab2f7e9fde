// How the client fails: each failure names what to check, is retried only where that is safe
// and bounded, and never shows a token or a secret value.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, afterEach, before, describe, it } from "node:test";
import { VaultClient } from "../../src/secrets/vault/client.js";
import { VaultError } from "../../src/secrets/vault/errors.js";
import {
  assertNoViolations,
  deadAddress,
  rejects,
  SET_PATH,
  type World,
  world,
} from "./helpers.js";

let w: World;
let c: VaultClient;
const count = (op: string) => w.vault.requests.filter((r) => r.operationId === op).length;

before(async () => {
  w = await world();
  c = new VaultClient({ address: w.vault.address, token: w.airlockToken, backoffMs: 1 });
});
afterEach(() => {
  w.vault.sealed = false;
  assertNoViolations(w.vault);
});
after(() => w.vault.close());

describe("Vault failures", () => {
  it("Vault down: says it cannot reach the address and what to check", async () => {
    const addr = await deadAddress();
    const down = new VaultClient({
      address: addr,
      token: w.airlockToken,
      retries: 2,
      backoffMs: 1,
    });
    const e = await rejects(() => down.kv2Read("secret", SET_PATH), w.secrets);
    assert.ok(e instanceof VaultError);
    assert.equal(e.kind, "unreachable");
    assert.equal(e.attempts, 3, "a refused connection is retried, boundedly");
    assert.match(
      e.message,
      /cannot reach Vault at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\): check VAULT_ADDR/,
    );
  });

  it("no answer: times out per attempt", async () => {
    const paths: string[] = [];
    const hang = createServer((req) => {
      paths.push(req.url ?? "");
    });
    await new Promise<void>((r) => hang.listen(0, "127.0.0.1", r));
    try {
      const addr = `http://127.0.0.1:${(hang.address() as AddressInfo).port}`;
      const slow = new VaultClient({
        address: addr,
        token: w.airlockToken,
        timeoutMs: 100,
        retries: 1,
        backoffMs: 1,
      });
      const e = await rejects(() => slow.kv2Read("secret", SET_PATH), w.secrets);
      assert.equal((e as VaultError).kind, "timeout");
      assert.match(e.message, /no answer from Vault .* within 100 ms/);
      assert.equal((e as VaultError).attempts, 2, "a read is retried once (retries: 1)");
      // A request that may have taken effect is not repeated after a timeout.
      paths.length = 0;
      await rejects(() => slow.createToken({ policies: ["x"], ttl: "1s", numUses: 1 }), w.secrets);
      assert.equal(paths.length, 1, "token create was not retried after a timeout");
    } finally {
      hang.closeAllConnections();
      hang.close();
    }
  });

  it("sealed: says so, retries a bounded number of times, then stops", async () => {
    w.vault.sealed = true;
    const n = count("kv-v2-read");
    const e = await rejects(() => c.kv2Read("secret", SET_PATH), w.secrets);
    assert.ok(e instanceof VaultError && e.sealed);
    assert.match(e.message, /^503 on secret\/data\/functional-tests: Vault is sealed: unseal it/);
    assert.equal(count("kv-v2-read") - n, 2, "one try and one sealed retry");
    assert.equal((await c.sealStatus()).sealed, true);
  });

  it("wrong token: 403 with what to check, and the token is not in the text", async () => {
    const bad = new VaultClient({
      address: w.vault.address,
      token: "hvs.WRONGwrongWRONGwrong1234",
      retries: 0,
    });
    const e = await rejects(
      () => bad.kv2Read("secret", SET_PATH),
      [...w.secrets, "hvs.WRONGwrongWRONGwrong1234"],
    );
    assert.match(
      e.message,
      /^403 on secret\/data\/functional-tests: the token's policies do not allow read, or the token has expired or was revoked/,
    );
  });

  it("policy denial names the path and the capability", async () => {
    const job = await c.createToken({
      policies: ["functional-tests-read"],
      ttl: "60s",
      numUses: 5,
    });
    const jc = c.withToken(job.client_token);
    const e = await rejects(
      () => jc.kv2Read("secret", "other-team"),
      [...w.secrets, job.client_token],
    );
    assert.match(
      e.message,
      /^403 on secret\/data\/other-team: the token's policies do not allow read/,
    );
    const e2 = await rejects(
      () => jc.kv2Write("secret", SET_PATH, { A: "x" }),
      [...w.secrets, job.client_token],
    );
    assert.match(e2.message, /do not allow create\/update/);
  });

  it("missing path: a 404 that says to check the path", async () => {
    const e = await rejects(() => c.request("GET", "secret/data/no-such-secret"), w.secrets);
    assert.equal((e as VaultError).status, 404);
    assert.equal((e as VaultError).attempts, 1, "a 404 is not retried");
    assert.match(
      e.message,
      /^404 on secret\/data\/no-such-secret: nothing at this path: check the path, the mount and the KV version$/,
    );
  });

  it("retries 412, 429 and 5xx with backoff, then succeeds", async () => {
    for (const status of [412, 429, 500, 502, 504]) {
      w.vault.fail({ method: "GET", path: /^secret\/data\/functional-tests$/, status, times: 2 });
      assert.ok(await c.kv2Read("secret", SET_PATH), `recovers after ${status}`);
    }
  });

  it("gives up after the bounded retries with the last status", async () => {
    const f = w.vault.fail({
      method: "GET",
      path: /^secret\/data\/functional-tests$/,
      status: 500,
      times: 100,
      errors: ["storage backend failed"],
    });
    const e = await rejects(() => c.kv2Read("secret", SET_PATH), w.secrets);
    assert.equal((e as VaultError).attempts, 4);
    assert.match(
      e.message,
      /^500 on secret\/data\/functional-tests: Vault failed internally: see its server log \(Vault said: storage backend failed\)/,
    );
    f.times = 0;
  });

  it("does not repeat a token create that Vault may have done (500), but does after 412/429", async () => {
    const f = w.vault.fail({ path: /^auth\/token\/create$/, status: 500, times: 5 });
    const n = count("token-create");
    await rejects(
      () => c.createToken({ policies: ["functional-tests-read"], ttl: "60s", numUses: 1 }),
      w.secrets,
    );
    assert.equal(count("token-create") - n, 1);
    f.times = 0;
    w.vault.fail({ path: /^auth\/token\/create$/, status: 429, times: 1 });
    assert.ok(await c.createToken({ policies: ["functional-tests-read"], ttl: "60s", numUses: 1 }));
  });

  it("scrubs a token that Vault echoes back in an error", async () => {
    const job = await c.createToken({
      policies: ["functional-tests-read"],
      ttl: "60s",
      numUses: 5,
    });
    const f = w.vault.fail({
      path: /^auth\/token\/revoke$/,
      status: 400,
      times: 1,
      errors: [`cannot revoke ${job.client_token}: bad state`],
    });
    const e = await rejects(
      () => c.revokeToken(job.client_token),
      [...w.secrets, job.client_token],
    );
    assert.match(e.message, /cannot revoke \[redacted\]: bad state/);
    f.times = 0;
  });

  it("refuses an address that is not a URL, without echoing anything secret", () => {
    assert.throws(() => new VaultClient({ address: "not a url" }), /is not a URL: set VAULT_ADDR/);
    assert.throws(
      () => new VaultClient({ address: "ftp://vault" }),
      /must start with https:\/\/ or http:\/\//,
    );
  });
});
