// `backend: vault` reaches the Vault backend through the secrets registry, like any backend.
import assert from "node:assert/strict";
import { it } from "node:test";
import { SecretSetSchema } from "../../src/config/schema.js";
import { registeredBackends } from "../../src/secrets/registry.js";
import "../../src/secrets/vault/register.js";
import type { BackendContext } from "../../src/secrets/registry.js";

it("registers the vault kind, which reads its connection from Airlock's environment", () => {
  const factory = registeredBackends().get("vault");
  assert.ok(factory);
  const sets = {
    ft: SecretSetSchema.parse({ backend: "vault", vault: { path: "secret/data/ft" } }),
  };
  const ctx = {
    sets,
    env: { VAULT_ADDR: "http://127.0.0.1:8200", VAULT_TOKEN: "t" },
  } as unknown as BackendContext;
  assert.equal(factory(ctx).kind, "vault");
  assert.throws(
    () => factory({ ...ctx, env: {} }),
    /VAULT_ADDR is not set in Airlock's environment: set it to e\.g\. https:\/\/vault\.example\.org:8200/,
  );
});
