// Rows of the embedded secret store on every engine: sealed bytes come back byte for byte, keys
// upsert, deleting a key deletes its versions, and one data key is active at a time.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { engines, type OpenedTestStore } from "../support/engines.js";

for (const engine of await engines()) {
  describe(`secret rows on ${engine.name}`, () => {
    let t: OpenedTestStore;
    before(async () => {
      t = await engine.open();
    });
    after(() => t.close());

    it("keeps sealed bytes exactly, versions newest first, and cascades a key's deletion", async () => {
      const { secrets } = t.store;
      const nonce = randomBytes(12);
      const ciphertext = Buffer.concat([randomBytes(40), Buffer.from([0, 0, 255])]);
      await secrets.insertKeyring({
        id: "k1",
        master_id: "m1",
        nonce,
        wrapped: ciphertext,
        active: 1,
        created_at: 1,
      });
      await secrets.insertKeyring({
        id: "k2",
        master_id: "m1",
        nonce,
        wrapped: ciphertext,
        active: 0,
        created_at: 2,
      });
      await secrets.setActiveKeyring("k2");
      assert.deepEqual(
        (await secrets.keyring()).map((r) => [r.id, r.active]),
        [
          ["k1", 0],
          ["k2", 1],
        ],
      );
      const ring = await secrets.keyring();
      assert.ok(Buffer.from(ring[0]!.wrapped).equals(ciphertext));

      const key = {
        set_name: "functional-tests",
        key: "AWS_SECRET_ACCESS_KEY",
        current: 1,
        next_version: 2,
        keep: 5,
        file: 0,
        created_at: 1,
        updated_at: 1,
        rotated_at: null,
      };
      await secrets.upsertKey(key);
      for (const version of [1, 2]) {
        await secrets.insertValue({
          set_name: key.set_name,
          key: key.key,
          version,
          key_id: "k2",
          nonce,
          ciphertext: Buffer.concat([ciphertext, Buffer.from([version])]),
          created_at: version,
        });
      }
      await secrets.upsertKey({
        ...key,
        current: 2,
        next_version: 3,
        updated_at: 5,
        created_at: 99,
      });
      const stored = await secrets.key(key.set_name, key.key);
      assert.equal(stored?.current, 2);
      assert.equal(stored?.created_at, 1, "an update keeps the creation time");
      assert.deepEqual(
        (await secrets.values(key.set_name, key.key)).map((v) => v.version),
        [2, 1],
      );
      const v1 = await secrets.value(key.set_name, key.key, 1);
      assert.ok(Buffer.from(v1!.ciphertext).equals(Buffer.concat([ciphertext, Buffer.from([1])])));
      await secrets.replaceSealed({ ...v1!, key_id: "k1", ciphertext: Buffer.from("new") });
      assert.equal((await secrets.value(key.set_name, key.key, 1))?.key_id, "k1");
      assert.deepEqual(await secrets.sets(), ["functional-tests"]);
      assert.equal((await secrets.allValues()).length, 2);

      assert.equal(await secrets.deleteKey(key.set_name, key.key), 1);
      assert.deepEqual(await secrets.allValues(), [], "versions go with their key");
      await secrets.purgeDeleted();
    });
  });
}
