// The OIDC issuer's key rows on every engine: sealed bytes come back byte for byte, keys are listed
// by activation, a key's signed-until time never moves backwards (millisecond times, past 32
// bits), and the issuer's key life (first key, rotation, revocation, data-key rekey) works on each.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { EmbeddedStore } from "../../src/secrets/embedded.js";
import { OidcKeyStore } from "../../src/secrets/oidc/keys.js";
import { engines, type OpenedTestStore } from "../support/engines.js";

const MASTER = { AIRLOCK_MASTER_KEY: Buffer.alloc(32, 5).toString("hex") };
const T0 = Date.UTC(2031, 0, 1);

for (const engine of await engines()) {
  describe(`OIDC key rows on ${engine.name}`, () => {
    let t: OpenedTestStore;
    before(async () => {
      t = await engine.open();
    });
    after(() => t.close());

    it("keeps sealed bytes, orders by activation, never moves signed-until backwards", async () => {
      const { oidcKeys } = t.store;
      const sealed = () => ({ key_id: "d1", nonce: randomBytes(12), ciphertext: randomBytes(90) });
      const later = { kid: "later", alg: "ES256", public_jwk: "{}", ...sealed() };
      const first = { kid: "first", alg: "RS256", public_jwk: '{"kty":"RSA"}', ...sealed() };
      await oidcKeys.insert({
        ...later,
        created_at: T0,
        activates_at: T0 + 600_000,
        signed_until: 0,
      });
      await oidcKeys.insert({ ...first, created_at: T0, activates_at: T0, signed_until: 0 });
      const rows = await oidcKeys.all();
      assert.deepEqual(
        rows.map((r) => r.kid),
        ["first", "later"],
      );
      assert.ok(Buffer.from(rows[0]!.ciphertext).equals(first.ciphertext));
      assert.equal(rows[1]!.activates_at, T0 + 600_000);

      await oidcKeys.noteSigned("first", T0 + 3_600_000);
      await oidcKeys.noteSigned("first", T0 + 60_000);
      assert.equal((await oidcKeys.all())[0]!.signed_until, T0 + 3_600_000);

      const resealed = sealed();
      await oidcKeys.replaceSealed("first", "d2", resealed.nonce, resealed.ciphertext);
      const row = (await oidcKeys.all())[0]!;
      assert.equal(row.key_id, "d2");
      assert.ok(Buffer.from(row.nonce).equals(resealed.nonce));
      await oidcKeys.delete("first");
      await oidcKeys.delete("later");
      assert.deepEqual(await oidcKeys.all(), []);
    });

    it("creates, rotates, revokes and re-seals the issuer's keys, each audited", async () => {
      const clock = { now: T0 };
      const now = () => clock.now;
      const sealer = new EmbeddedStore({ dataDir: t.dataDir, store: t.store, env: MASTER, now });
      const keys = new OidcKeyStore({ db: t.store, store: sealer, now });
      const first = await keys.signer();
      await keys.noteSigned(first.kid, T0 + 600_000, {
        action: "id-token",
        actor: "test",
        key: "CLOUD_ID_TOKEN",
        at: T0,
      });
      const next = await keys.rotate({ activateInMs: 60_000, actor: "test" });
      assert.equal(next.state, "next");
      assert.deepEqual(
        (await keys.jwks()).keys.map((k) => k.kid),
        [first.kid, next.kid],
      );
      clock.now = T0 + 120_000;
      assert.equal((await keys.signer()).kid, next.kid);

      await sealer.rekey({ actor: "test", newKey: Buffer.alloc(32, 6), dataKey: true });
      const fresh = new OidcKeyStore({
        db: t.store,
        store: new EmbeddedStore({
          dataDir: t.dataDir,
          store: t.store,
          env: { AIRLOCK_MASTER_KEY: Buffer.alloc(32, 6).toString("hex") },
          now,
        }),
        now,
      });
      const after = await fresh.signer();
      assert.equal(after.kid, next.kid, "the re-sealed key opens with the new data key");

      const { replacement } = await fresh.revoke(next.kid, "test");
      assert.ok(replacement);
      assert.ok(!(await fresh.jwks()).keys.some((k) => k.kid === next.kid));
      const actions = (await t.store.audit.list({})).map((e) => e.action);
      for (const a of ["oidc-rotate", "id-token", "rekey", "oidc-revoke"]) {
        assert.ok(actions.includes(a), `${a} is audited`);
      }
    });
  });
}
