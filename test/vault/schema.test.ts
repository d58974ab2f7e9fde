// The `vault:` block of a secret set, and the pure rotation reminder.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigSchema } from "../../src/config/schema.js";
import { periodMs, VaultSetSchema } from "../../src/config/vault-schema.js";
import { rotationDue } from "../../src/secrets/vault/rotation.js";

const messages = (input: unknown) => {
  const r = VaultSetSchema.safeParse(input);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
};

describe("vault: in .airlock.yml", () => {
  it("fills defaults: inject mode, token login, bounded uses", () => {
    const v = VaultSetSchema.parse({ path: "secret/data/functional-tests" });
    assert.equal(v.mode, "inject");
    assert.equal(v.auth.method, "token");
    assert.equal(v.num_uses, 100);
    assert.equal(v.ttl_margin, "5m");
    assert.deepEqual(v.dynamic, []);
  });

  it("refuses what would be unsafe or cannot work, saying why", () => {
    assert.match(
      messages({ path: "s/x", mode: "token" }).join(),
      /policies: token mode needs `policies`/,
    );
    assert.match(
      messages({ path: "s/x", mode: "token", policies: ["root"] }).join(),
      /must never carry the `root` policy/,
    );
    assert.match(messages({ path: "/secret/x" }).join(), /without a leading `\/`/);
    assert.match(messages({ path: "v1/secret/x" }).join(), /without the `v1\/` API prefix/);
    assert.match(messages({ path: "secret/../sys" }).join(), /no empty, `\.` or `\.\.` segments/);
    assert.match(
      messages({ path: "s/x", auth: { method: "jwt" } }).join(),
      /auth\.role: jwt login needs a `role`/,
    );
    assert.match(messages({ path: "s/x", num_uses: 0 }).join(), /num_uses/);
    assert.match(messages({ path: "s/x", rotate_every: "monthly" }).join(), /a period looks like/);
    assert.match(messages({ path: "s/x", address: "http://x" }).join(), /address|Unrecognized/i);
    assert.match(
      messages({ path: "s/x", keys: { A: "a" }, files: ["B"] }).join(),
      /"B" is not one of the variables/,
    );
  });

  it("sits in a secret set of the whole configuration", () => {
    const c = ConfigSchema.parse({
      version: 1,
      secrets: {
        ft: {
          backend: "vault",
          vault: { path: "secret/data/ft", mode: "token", policies: ["ft-read"] },
        },
      },
      jobs: { t: { run: "true", secrets: ["ft"] } },
    });
    assert.equal(c.secrets.ft?.vault?.mode, "token");
  });
});

describe("rotationDue", () => {
  const day = 86_400_000;
  it("is due once the period has passed, and says by how much", () => {
    const t0 = Date.UTC(2025, 0, 1);
    assert.equal(rotationDue(t0, "30d", t0 + 29 * day).due, false);
    assert.match(rotationDue(t0, "30d", t0 + 29 * day).message, /next rotation due in 24 hours/);
    const late = rotationDue(t0, "30d", t0 + 42 * day);
    assert.equal(late.due, true);
    assert.equal(late.dueAt, t0 + 30 * day);
    assert.equal(late.message, "last rotated 42 days ago; rotate_every is 30d (12 days overdue)");
  });
  it("parses periods", () => {
    assert.equal(periodMs("2w"), 14 * day);
    assert.equal(periodMs("90s"), 90_000);
    assert.throws(() => periodMs("1y"), /is not a period/);
  });
});
