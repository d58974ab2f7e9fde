import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { chmodSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { EmbeddedStore } from "../../src/secrets/embedded.js";
import { SecretsError, TamperedError, WrongMasterKeyError } from "../../src/secrets/errors.js";
import type { OpenedStore } from "../../src/store/index.js";
import { hexKey, openTestDb, rawSqlite, type TempDir, tempDataDir } from "./helpers.js";

const actor = "test";
const WRONG_KEY =
  /the master key does not match the one that encrypted this store; set AIRLOCK_MASTER_KEY or restore master\.key/;

describe("embedded store", () => {
  let tmp: TempDir;
  let opened: OpenedStore;
  const store = (env: NodeJS.ProcessEnv = {}) =>
    new EmbeddedStore({ dataDir: tmp.dir, store: opened, env });

  beforeEach(async () => {
    tmp = tempDataDir();
    opened = await openTestDb(tmp.dir);
  });
  afterEach(async () => {
    await opened.close();
    tmp.cleanup();
  });

  it("round-trips values and creates master.key with mode 0600 on first use", async () => {
    const s = store();
    assert.equal(await s.set("ft", "API_TOKEN", "tok-abc-123456", { actor }), 1);
    assert.equal(await s.set("ft", "PEM", "line1\nline2\n", { actor, file: true }), 1);
    assert.equal(statSync(path.join(tmp.dir, "master.key")).mode & 0o777, 0o600);
    // A fresh instance (another process) reads them back with the key file.
    const values = await store().read("ft");
    assert.deepEqual(
      values.map((v) => [v.key, v.current.value, v.file]),
      [
        ["API_TOKEN", "tok-abc-123456", false],
        ["PEM", "line1\nline2\n", true],
      ],
    );
    const revealed = await store().reveal("ft", "API_TOKEN", { actor });
    assert.equal(revealed.value, "tok-abc-123456");
  });

  it("takes the master key from AIRLOCK_MASTER_KEY (hex or base64) and writes no key file", async () => {
    const key = randomBytes(32);
    await store({ AIRLOCK_MASTER_KEY: key.toString("hex") }).set("s", "K", "value-1", { actor });
    assert.throws(() => statSync(path.join(tmp.dir, "master.key")), { code: "ENOENT" });
    const b64 = store({ AIRLOCK_MASTER_KEY: key.toString("base64") });
    assert.equal((await b64.reveal("s", "K", { actor })).value, "value-1");
  });

  it("rejects a malformed AIRLOCK_MASTER_KEY without echoing it", async () => {
    const bad = "not-a-key-but-maybe-a-typo";
    await assert.rejects(
      store({ AIRLOCK_MASTER_KEY: bad }).set("s", "K", "v-123456", { actor }),
      (e: Error) => {
        assert.ok(e instanceof SecretsError);
        assert.match(
          e.message,
          /AIRLOCK_MASTER_KEY is not a valid master key .*openssl rand -base64 32/,
        );
        assert.ok(!e.message.includes(bad));
        return true;
      },
    );
  });

  it("a wrong master key is a clear error, never garbage", async () => {
    await store({ AIRLOCK_MASTER_KEY: hexKey(1) }).set("s", "K", "value-1", { actor });
    await assert.rejects(store({ AIRLOCK_MASTER_KEY: hexKey(2) }).read("s"), (e: Error) => {
      assert.ok(e instanceof WrongMasterKeyError);
      assert.match(e.message, WRONG_KEY);
      return true;
    });
    // Nor may a wrong key add values sealed under some other key.
    await assert.rejects(
      store({ AIRLOCK_MASTER_KEY: hexKey(2) }).set("s", "K2", "value-2", { actor }),
      WRONG_KEY,
    );
    // A store with secrets and no key at all: told which key it needs.
    await assert.rejects(
      store({}).read("s"),
      /no master key: set AIRLOCK_MASTER_KEY or restore .*master\.key/,
    );
  });

  it("refuses a key file readable by group or others", async () => {
    await store().set("s", "K", "value-1", { actor });
    chmodSync(path.join(tmp.dir, "master.key"), 0o644);
    await assert.rejects(
      store().read("s"),
      /master\.key is accessible to group or others \(mode 0644\): run `chmod 600/,
    );
  });

  describe("tampering is detected", () => {
    const setup = async () => {
      const s = store();
      await s.set("s", "A", "alpha-value-1", { actor });
      await s.set("s", "A", "alpha-value-2", { actor });
      await s.set("s", "B", "bravo-value-1", { actor });
    };
    const row = (key: string, version: number) =>
      rawSqlite(opened)
        .prepare(
          "SELECT nonce, ciphertext FROM secret_values WHERE set_name='s' AND key=? AND version=?",
        )
        .get(key, version) as { nonce: Buffer; ciphertext: Buffer };
    const put = (key: string, version: number, r: { nonce: Buffer; ciphertext: Buffer }) =>
      rawSqlite(opened)
        .prepare(
          "UPDATE secret_values SET nonce=?, ciphertext=? WHERE set_name='s' AND key=? AND version=?",
        )
        .run(r.nonce, r.ciphertext, key, version);
    const altered =
      /the stored value of s\/(A|B) version \d failed authentication: it was altered or moved/;

    it("a flipped ciphertext bit", async () => {
      await setup();
      const r = row("A", 2);
      r.ciphertext[0]! ^= 1;
      put("A", 2, r);
      await assert.rejects(
        store().read("s"),
        (e: Error) => e instanceof TamperedError && altered.test(e.message),
      );
    });

    it("a flipped tag bit", async () => {
      await setup();
      const r = row("A", 2);
      r.ciphertext[r.ciphertext.length - 1]! ^= 0x80;
      put("A", 2, r);
      await assert.rejects(store().read("s"), altered);
    });

    it("a changed nonce", async () => {
      await setup();
      const r = row("B", 1);
      r.nonce[5]! ^= 1;
      put("B", 1, r);
      await assert.rejects(store().reveal("s", "B", { actor }), altered);
    });

    it("a value moved to another key", async () => {
      await setup();
      put("B", 1, row("A", 2));
      await assert.rejects(store().reveal("s", "B", { actor }), altered);
    });

    it("an old version replayed as the current one", async () => {
      await setup();
      put("A", 2, row("A", 1));
      await assert.rejects(store().reveal("s", "A", { actor }), altered);
    });

    it("a value moved to another set", async () => {
      await setup();
      await store().set("other", "A", "other-value-1", { actor });
      const r = row("A", 2);
      rawSqlite(opened)
        .prepare(
          "UPDATE secret_values SET nonce=?, ciphertext=? WHERE set_name='other' AND key='A'",
        )
        .run(r.nonce, r.ciphertext);
      await assert.rejects(store().read("other"), /other\/A version 1 failed authentication/);
    });

    it("a damaged wrapped data key", async () => {
      await setup();
      const k = rawSqlite(opened).prepare("SELECT id, wrapped FROM secret_keyring").get() as {
        id: string;
        wrapped: Buffer;
      };
      k.wrapped[3]! ^= 1;
      rawSqlite(opened)
        .prepare("UPDATE secret_keyring SET wrapped=? WHERE id=?")
        .run(k.wrapped, k.id);
      await assert.rejects(
        store().read("s"),
        /data key .* failed authentication although the master key matches/,
      );
    });
  });

  it("keeps the last N versions; rotate records the time; rollback goes back one version", async () => {
    let t = 1000;
    const s = new EmbeddedStore({ dataDir: tmp.dir, store: opened, env: {}, now: () => t });
    for (let i = 1; i <= 7; i++)
      await s.set("s", "K", `value-number-${i}`, { actor, keep: i === 1 ? 3 : undefined });
    let [info] = await s.list("s");
    assert.equal(info!.version, 7);
    assert.deepEqual(info!.versions, [7, 6, 5]);
    assert.equal(info!.rotatedAt, null);

    t = 5000;
    assert.equal(await s.rotate("s", "K", "value-number-8", { actor }), 8);
    [info] = await s.list("s");
    assert.deepEqual(info!.versions, [8, 7, 6]);
    assert.equal(info!.rotatedAt, 5000);
    await assert.rejects(
      s.rotate("s", "NEW", "v-123456", { actor }),
      /does not exist, so there is nothing to rotate/,
    );

    assert.deepEqual(await s.rollback("s", "K", actor), { from: 8, to: 7 });
    assert.equal((await s.reveal("s", "K", { actor })).value, "value-number-7");
    [info] = await s.list("s");
    assert.deepEqual(info!.versions, [7, 6]);
    // Versions are never reused after a rollback.
    assert.equal(await s.set("s", "K", "value-number-9", { actor }), 9);
    assert.equal((await s.reveal("s", "K", { actor, version: 6 })).value, "value-number-6");
    await s.rollback("s", "K", actor);
    await s.rollback("s", "K", actor);
    await assert.rejects(s.rollback("s", "K", actor), /no earlier version kept \(current: 6\)/);

    // Every kept version is known for masking.
    const [read] = await s.read("s");
    assert.deepEqual(
      read!.versions.map((v) => v.version),
      [6],
    );
  });

  it("deletes a key or a whole set", async () => {
    const s = store();
    await s.set("s", "A", "alpha-value-1", { actor });
    await s.set("s", "B", "bravo-value-1", { actor });
    await s.set("t", "A", "tango-value-1", { actor });
    assert.equal(await s.delete("s", "A", actor), 1);
    assert.deepEqual(
      (await s.list()).map((k) => `${k.set}/${k.key}`),
      ["s/B", "t/A"],
    );
    assert.equal(await s.delete("t", undefined, actor), 1);
    assert.deepEqual(
      (await s.list()).map((k) => `${k.set}/${k.key}`),
      ["s/B"],
    );
    assert.equal(
      (rawSqlite(opened).prepare("SELECT count(*) AS n FROM secret_values").get() as { n: number })
        .n,
      1,
    );
    await assert.rejects(s.delete("t", undefined, actor), /there is no secret set "t"/);
    await assert.rejects(s.delete("s", "A", actor), /set "s" has no key A; its keys: B/);
  });

  it("refuses empty values, bad names and bad --keep", async () => {
    const s = store();
    await assert.rejects(s.set("s", "K", "", { actor }), /refusing an empty value for s\/K/);
    await assert.rejects(s.set("s", "1BAD", "v-123456", { actor }), /not a secret key name/);
    await assert.rejects(s.set("../x", "K", "v-123456", { actor }), /not a secret set name/);
    await assert.rejects(
      s.set("s", "K", "v-123456", { actor, keep: 0 }),
      /--keep must be a whole number from 1 to 100/,
    );
    await assert.rejects(s.set("s", "K", "a\0b", { actor }), /NUL byte.*--file/);
  });

  it("rekey: values stay readable with the new master key and not with the old one", async () => {
    const s = store({ AIRLOCK_MASTER_KEY: hexKey(1) });
    await s.set("s", "K", "secret-value-1", { actor });
    await assert.rejects(
      s.rekey({ actor }),
      /comes from AIRLOCK_MASTER_KEY: give the new key on stdin/,
    );
    await assert.rejects(
      s.rekey({ actor, newKey: Buffer.alloc(32, 1) }),
      /same as the current one/,
    );
    const r = await s.rekey({ actor, newKey: Buffer.alloc(32, 2) });
    assert.equal(r.dataKeyReplaced, false);
    // The instance that rekeyed keeps working (no downtime), and so does a new one with the new key.
    assert.equal((await s.reveal("s", "K", { actor })).value, "secret-value-1");
    assert.equal(
      (await store({ AIRLOCK_MASTER_KEY: hexKey(2) }).reveal("s", "K", { actor })).value,
      "secret-value-1",
    );
    await assert.rejects(
      store({ AIRLOCK_MASTER_KEY: hexKey(1) }).reveal("s", "K", { actor }),
      WRONG_KEY,
    );
  });

  it("rekey with a key file replaces master.key; --data-key re-seals every value", async () => {
    const s = store();
    await s.set("s", "A", "alpha-value-1", { actor });
    await s.set("s", "A", "alpha-value-2", { actor });
    await s.set("s", "B", "bravo-value-1", { actor });
    const file = path.join(tmp.dir, "master.key");
    const oldKey = readFileSync(file, "utf8");
    const before = rawSqlite(opened)
      .prepare("SELECT ciphertext FROM secret_values ORDER BY key, version")
      .all();
    const r = await s.rekey({ actor, dataKey: true });
    assert.equal(r.keyFile, file);
    assert.equal(r.valuesResealed, 3);
    assert.notEqual(readFileSync(file, "utf8"), oldKey);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.ok(!readdirSync(tmp.dir).includes("master.key.new"));
    const after = rawSqlite(opened)
      .prepare("SELECT ciphertext FROM secret_values ORDER BY key, version")
      .all();
    assert.notDeepEqual(after, before);
    assert.equal(
      (rawSqlite(opened).prepare("SELECT count(*) AS n FROM secret_keyring").get() as { n: number })
        .n,
      1,
    );
    const fresh = store();
    assert.deepEqual(
      (await fresh.read("s")).map((k) => k.versions.map((v) => v.value)),
      [["alpha-value-2", "alpha-value-1"], ["bravo-value-1"]],
    );
    // The old key no longer opens the store.
    await assert.rejects(store({ AIRLOCK_MASTER_KEY: oldKey.trim() }).read("s"), WRONG_KEY);
    // Another instance that cached the old data key picks up the new one.
    await s.set("s", "C", "charlie-value-1", { actor });
    assert.equal((await store().reveal("s", "C", { actor })).value, "charlie-value-1");
  });

  it("finishes a rekey interrupted between the commit and the rename of master.key", async () => {
    const s = store();
    await s.set("s", "K", "secret-value-1", { actor });
    const file = path.join(tmp.dir, "master.key");
    const oldText = readFileSync(file, "utf8");
    await s.rekey({ actor });
    // Simulate the crash: the new key is still in master.key.new, the old one in master.key.
    const newText = readFileSync(file, "utf8");
    writeFileSync(`${file}.new`, newText, { mode: 0o600 });
    writeFileSync(file, oldText, { mode: 0o600 });
    assert.equal((await store().reveal("s", "K", { actor })).value, "secret-value-1");
    assert.equal(readFileSync(file, "utf8"), newText);
  });

  it("audits changes and reveals, append-only", async () => {
    const s = store();
    await s.set("s", "K", "secret-value-1", { actor: "cli:alice" });
    await s.rotate("s", "K", "secret-value-2", { actor: "cli:alice" });
    await s.reveal("s", "K", { actor: "cli:bob" });
    await s.rollback("s", "K", "cli:alice");
    const rows = await s.audit.list();
    assert.deepEqual(
      rows.map((r) => [r.actor, r.action, r.set, r.key, r.versions]),
      [
        ["cli:alice", "set", "s", "K", { K: 1 }],
        ["cli:alice", "rotate", "s", "K", { K: 2 }],
        ["cli:bob", "reveal", "s", "K", { K: 2 }],
        ["cli:alice", "rollback", "s", "K", { from: 2, to: 1 }],
      ],
    );
    assert.throws(
      () => rawSqlite(opened).prepare("UPDATE audit SET actor = 'mallory'").run(),
      /append-only/,
    );
    assert.throws(() => rawSqlite(opened).prepare("DELETE FROM audit").run(), /append-only/);
  });
});
