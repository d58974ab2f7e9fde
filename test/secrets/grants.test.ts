import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import type { SecretSetConfig } from "../../src/config/schema.js";
import { SecretSetSchema } from "../../src/config/schema.js";
import { EmbeddedStore } from "../../src/secrets/embedded.js";
import { SecretsService } from "../../src/secrets/grants.js";
import { registerBackend } from "../../src/secrets/registry.js";
import type { SecretBackend, SecretGrant } from "../../src/secrets/types.js";
import type { OpenedStore } from "../../src/store/index.js";
import { hexKey, openTestDb, type TempDir, tempDataDir } from "./helpers.js";

const ctx = { runId: "run-1", jobId: "functional-aws", timeoutMs: 60_000 };
// `keys:` is read by the env backend; the schema may not know it yet, so it is added after parsing.
const set = ({ keys, ...input }: Record<string, unknown> = {}): SecretSetConfig =>
  ({ ...SecretSetSchema.parse(input), ...(keys ? { keys } : {}) }) as SecretSetConfig;

describe("grants", () => {
  let tmp: TempDir;
  let opened: OpenedStore;
  const env = { AIRLOCK_MASTER_KEY: hexKey(7) };

  const service = (
    sets: Record<string, SecretSetConfig>,
    extraEnv: NodeJS.ProcessEnv = {},
    factories?: ConstructorParameters<typeof SecretsService>[0]["factories"],
  ) =>
    new SecretsService({
      dataDir: tmp.dir,
      store: opened,
      sets,
      env: { ...env, ...extraEnv },
      factories,
    });

  beforeEach(async () => {
    tmp = tempDataDir();
    opened = await openTestDb(tmp.dir);
    const store = new EmbeddedStore({ dataDir: tmp.dir, store: opened, env });
    await store.set("ft", "AWS_SECRET_ACCESS_KEY", "aws-secret-v1-xxxx", { actor: "t" });
    await store.set("ft", "AWS_SECRET_ACCESS_KEY", "aws-secret-v2-xxxx", { actor: "t" });
    await store.set("ft", "SSH_KEY", "-----BEGIN KEY-----\nabc\n", { actor: "t", file: true });
    await store.set("other", "OTHER_TOKEN", "other-token-value", { actor: "t" });
  });
  afterEach(async () => {
    await opened.close();
    tmp.cleanup();
  });

  it("gives a job only the sets it declares: env, files, every kept version in the mask", async () => {
    const svc = service({ ft: set(), other: set() });
    const grants = await svc.grantsFor({ id: "j", secrets: ["ft"] }, ctx);
    assert.equal(grants.length, 1);
    const [g] = grants as [SecretGrant];
    assert.equal(g.set, "ft");
    assert.deepEqual(g.env, { AWS_SECRET_ACCESS_KEY: "aws-secret-v2-xxxx" });
    assert.deepEqual(g.files, [{ name: "SSH_KEY", value: "-----BEGIN KEY-----\nabc\n" }]);
    assert.deepEqual(g.versions, { AWS_SECRET_ACCESS_KEY: 2, SSH_KEY: 1 });
    assert.deepEqual(g.mask.map((m) => m.value).sort(), [
      "-----BEGIN KEY-----\nabc\n",
      "aws-secret-v1-xxxx",
      "aws-secret-v2-xxxx",
    ]);
    assert.ok(!JSON.stringify(grants).includes("other-token-value"));
    assert.deepEqual(g.notes, []);
  });

  it("a public job gets no grant and touches no backend", async () => {
    let called = 0;
    const spy: SecretBackend = {
      kind: "embedded",
      grant: async () => {
        called++;
        throw new Error("must not be called");
      },
      list: async () => [],
    };
    const svc = service({ ft: set() }, {}, { embedded: () => spy });
    assert.deepEqual(await svc.grantsFor({ id: "build", secrets: [] }, ctx), []);
    assert.equal(called, 0);
    assert.deepEqual(await opened.audit.list({ action: "release" }), []);
  });

  it("records each release in the audit log, with versions and never values", async () => {
    const svc = service({ ft: set(), other: set() });
    await svc.grantsFor({ id: "j", secrets: ["ft", "other"] }, ctx);
    const rows = await opened.audit.list({ action: "release" });
    assert.deepEqual(
      rows.map((r) => [r.actor, r.runId, r.jobId, r.set, r.versions]),
      [
        ["airlock", "run-1", "functional-aws", "ft", { AWS_SECRET_ACCESS_KEY: 2, SSH_KEY: 1 }],
        ["airlock", "run-1", "functional-aws", "other", { OTHER_TOKEN: 1 }],
      ],
    );
    const all = JSON.stringify(await opened.audit.list());
    assert.ok(!all.includes("aws-secret") && !all.includes("other-token-value"));
  });

  it("env_override: a variable in Airlock's environment wins, noted without its value", async () => {
    const svc = service(
      { ft: set({ env_override: true }) },
      { AWS_SECRET_ACCESS_KEY: "developer-own-secret", SSH_KEY: "dev-ssh-key-content" },
    );
    const [g] = (await svc.grantsFor({ id: "j", secrets: ["ft"] }, ctx)) as [SecretGrant];
    assert.equal(g.env.AWS_SECRET_ACCESS_KEY, "developer-own-secret");
    assert.deepEqual(g.files, [{ name: "SSH_KEY", value: "dev-ssh-key-content" }]);
    assert.deepEqual(g.versions, { AWS_SECRET_ACCESS_KEY: "env", SSH_KEY: "env" });
    assert.deepEqual(g.notes, [
      "ft: AWS_SECRET_ACCESS_KEY, SSH_KEY taken from Airlock's environment (env_override)",
    ]);
    assert.ok(g.mask.some((m) => m.value === "developer-own-secret"));
    const [audit] = await opened.audit.list({ action: "release" });
    assert.match(audit!.detail!, /env_override/);
    assert.ok(!audit!.detail!.includes("developer-own-secret"));
  });

  it("without env_override the environment is ignored", async () => {
    const svc = service({ ft: set() }, { AWS_SECRET_ACCESS_KEY: "developer-own-secret" });
    const [g] = (await svc.grantsFor({ id: "j", secrets: ["ft"] }, ctx)) as [SecretGrant];
    assert.equal(g.env.AWS_SECRET_ACCESS_KEY, "aws-secret-v2-xxxx");
    assert.deepEqual(g.notes, []);
  });

  it("env_override never replaces Airlock's or a backend's own variables, nor non-overridable keys", async () => {
    const tokenGrant: SecretBackend = {
      kind: "vault",
      grant: async (s) => ({
        set: s,
        env: {
          VAULT_ADDR: "https://vault.example",
          VAULT_TOKEN: "child-token-xyz",
          APP_KEY: "kv-value-123",
        },
        files: [],
        mask: [{ name: "VAULT_TOKEN", value: "child-token-xyz" }],
        versions: { token: "accessor-1" },
        notes: [],
        overridable: ["APP_KEY"],
        release: async () => {},
      }),
      list: async () => [],
    };
    const svc = service(
      { v: set({ backend: "vault", env_override: true }) },
      { VAULT_TOKEN: "airlock-own-root-token", VAULT_ADDR: "http://x", APP_KEY: "dev-app-key" },
      { vault: () => tokenGrant },
    );
    const [g] = (await svc.grantsFor({ id: "j", secrets: ["v"] }, ctx)) as [SecretGrant];
    assert.equal(g.env.VAULT_TOKEN, "child-token-xyz");
    assert.equal(g.env.VAULT_ADDR, "https://vault.example");
    assert.equal(g.env.APP_KEY, "dev-app-key");
  });

  it("env backend: values from Airlock's environment, listed under keys", async () => {
    const svc = service(
      { e: set({ backend: "env", keys: ["DO_TOKEN", "SCW_KEY"] }) },
      { DO_TOKEN: "do-token-value", SCW_KEY: "scw-key-value" },
    );
    const [g] = (await svc.grantsFor({ id: "j", secrets: ["e"] }, ctx)) as [SecretGrant];
    assert.deepEqual(g.env, { DO_TOKEN: "do-token-value", SCW_KEY: "scw-key-value" });
    assert.deepEqual(g.versions, { DO_TOKEN: "env", SCW_KEY: "env" });
    assert.equal(g.mask.length, 2);

    const missing = service(
      { e: set({ backend: "env", keys: ["DO_TOKEN", "SCW_KEY"] }) },
      { DO_TOKEN: "x-123456" },
    );
    await assert.rejects(
      missing.grantsFor({ id: "j", secrets: ["e"] }, ctx),
      /needs SCW_KEY in Airlock's environment/,
    );
    const none = service({ e: set({ backend: "env" }) });
    await assert.rejects(none.grantsFor({ id: "j", secrets: ["e"] }, ctx), /lists no `keys:`/);
  });

  it("vault slots in through registerBackend; a missing backend or set is a clear error", async () => {
    const svc0 = service({ v: set({ backend: "vault" }) });
    await assert.rejects(
      svc0.grantsFor({ id: "j", secrets: ["v"] }, ctx),
      /uses the vault backend, which this Airlock does not provide/,
    );
    await assert.rejects(
      svc0.grantsFor({ id: "j", secrets: ["nope"] }, ctx),
      /no secret set named "nope"/,
    );

    let seenSets: string[] = [];
    registerBackend("vault", (c) => {
      seenSets = Object.keys(c.sets);
      return {
        kind: "vault",
        grant: async (s) => ({
          set: s,
          env: { K: "vault-value-1" },
          files: [],
          mask: [],
          versions: { K: 3 },
          notes: [],
          release: async () => {},
        }),
        list: async () => [],
      };
    });
    const svc = service({ v: set({ backend: "vault" }) });
    assert.equal(svc.backendFor("v").kind, "vault");
    const [g] = (await svc.grantsFor({ id: "j", secrets: ["v"] }, ctx)) as [SecretGrant];
    assert.equal(g.env.K, "vault-value-1");
    assert.deepEqual(seenSets, ["v"]);
  });

  it("when one set fails, the sets already granted are released", async () => {
    const released: string[] = [];
    const ok: SecretBackend = {
      kind: "embedded",
      grant: async (s) => ({
        set: s,
        env: {},
        files: [],
        mask: [],
        versions: {},
        notes: [],
        release: async () => void released.push(s),
      }),
      list: async () => [],
    };
    const svc = service({ a: set(), b: set({ backend: "env" }) }, {}, { embedded: () => ok });
    await assert.rejects(svc.grantsFor({ id: "j", secrets: ["a", "b"] }, ctx), /lists no `keys:`/);
    assert.deepEqual(released, ["a"]);
  });

  it("an empty embedded set is a clear error", async () => {
    const svc = service({ empty: set() });
    await assert.rejects(
      svc.grantsFor({ id: "j", secrets: ["empty"] }, ctx),
      /secret set "empty" has no values in the embedded store .*airlock secrets set empty KEY/,
    );
  });
});
