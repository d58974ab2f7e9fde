// examples/vault-token: its job script, given what a token-mode grant gives a job, reads its set,
// is denied outside its policy, prints no secret, and its token is dead once the grant is released.
// (run-e2e.test.ts runs the same example through `airlock run`.)
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { after, afterEach, before, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { loadConfig } from "../../src/config/loader.js";
import { durationMs } from "../../src/config/schema.js";
import { vaultBackendFromConfig } from "../../src/secrets/vault/index.js";
import { assertNoLeak, assertNoViolations, type World, world } from "./helpers.js";

const run = promisify(execFile);
const dir = fileURLToPath(new URL("../../examples/vault-token/", import.meta.url));

let w: World;
before(async () => {
  w = await world();
});
afterEach(() => assertNoViolations(w.vault));
after(() => w.vault.close());

async function job(env: Record<string, string>): Promise<{ code: number; out: string }> {
  try {
    const r = await run(process.execPath, [join(dir, "functional-test.mjs")], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env },
      timeout: 15_000,
    });
    return { code: 0, out: r.stdout + r.stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: x.code ?? 1, out: `${x.stdout ?? ""}${x.stderr ?? ""}` };
  }
}

it("the example job reads its set with its own token, and the token dies with the job", async () => {
  const config = loadConfig(join(dir, ".airlock.yml"));
  const spec = config.jobs.functional!;
  const backend = vaultBackendFromConfig(config.secrets, {
    VAULT_ADDR: w.vault.address,
    VAULT_TOKEN: w.airlockToken,
  });
  const grant = await backend.grant("functional-tests", {
    runId: "run-example",
    jobId: "functional",
    timeoutMs: durationMs(spec.timeout),
  });
  assert.deepEqual(Object.keys(grant.env).sort(), ["VAULT_ADDR", "VAULT_TOKEN"]);
  const token = grant.env.VAULT_TOKEN!;
  assert.notEqual(token, w.airlockToken);

  const first = await job({ ...spec.env, ...grant.env });
  assert.equal(first.code, 0, first.out);
  assert.match(first.out, /loaded 3 secrets from Vault/);
  assert.match(first.out, /outside the policy: denied \(403\)/);
  assertNoLeak(first.out, [...w.secrets, token]);

  const [minted] = w.vault.tokensWithMeta({ run: "run-example", job: "functional" });
  assert.equal(minted?.id, token);
  assert.equal(minted?.creationTtl, 10 * 60 + 2 * 60);

  await grant.release();
  assert.equal(w.vault.tokenValid(token), false);
  const again = await job({ ...spec.env, ...grant.env });
  assert.notEqual(again.code, 0);
  assert.match(again.out, /reading the test secrets from Vault: HTTP 403/);
  assertNoLeak(again.out, [...w.secrets, token]);
});
