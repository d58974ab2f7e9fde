// Shared set-up for the Vault tests: a double with the seed team's layout.
import assert from "node:assert/strict";
import { VaultDouble } from "./double.js";

export const SET_PATH = "functional-tests";
export const SECRETS_V1 = {
  AWS_ACCESS_KEY_ID: "AKIAOLDOLDOLDOLD1234",
  AWS_SECRET_ACCESS_KEY: "old-secret-key-0123456789abcdefghijklmn",
  SCALEWAY_SECRET_KEY: "scw-old-1f2e3d4c5b6a",
};
export const SECRETS_V2 = {
  AWS_ACCESS_KEY_ID: "AKIANEWNEWNEWNEW5678",
  AWS_SECRET_ACCESS_KEY: "new-secret-key-zyxwvutsrqponmlkjihgfedc",
  SCALEWAY_SECRET_KEY: "scw-new-9a8b7c6d5e4f",
};

export interface World {
  vault: VaultDouble;
  /** Airlock's own token: reads the set and hands out the job policy. */
  airlockToken: string;
  /** Every secret value and token the tests must never see in an error. */
  secrets: string[];
}

/** The double, Airlock's policy and token, the job policy and two versions of the set. */
export async function world(): Promise<World> {
  const vault = await VaultDouble.start();
  vault.setPolicy("functional-tests-read", {
    "secret/data/functional-tests": ["read"],
    "secret/metadata/functional-tests": ["read"],
  });
  vault.setPolicy("airlock", {
    "secret/data/*": ["create", "read", "update"],
    "secret/metadata/*": ["read", "list"],
    "kv/*": ["create", "read", "update"],
    "auth/token/create": ["update"],
    "auth/token/revoke-accessor": ["update"],
    "auth/token/revoke": ["update"],
    "auth/token/renew": ["update"],
    "sys/leases/revoke": ["update"],
    "sys/policies/acl/*": ["read"],
    "aws/creds/*": ["read"],
  });
  vault.addAwsRole("ci-role");
  const airlock = vault.mintToken({
    policies: ["default", "airlock", "functional-tests-read"],
    ttlSec: 7200,
  });
  vault.kvPut(SET_PATH, SECRETS_V1);
  vault.kvPut(SET_PATH, SECRETS_V2);
  vault.kvPut("other-team", { DB_PASSWORD: "other-team-password-42" });
  return {
    vault,
    airlockToken: airlock.token,
    secrets: [
      vault.rootToken,
      airlock.token,
      ...Object.values(SECRETS_V1),
      ...Object.values(SECRETS_V2),
      "other-team-password-42",
    ],
  };
}

export function assertNoLeak(text: string, secrets: Iterable<string>): void {
  for (const s of secrets) {
    assert.ok(!text.includes(s), `a secret (${s.slice(0, 4)}…) leaked into: ${text}`);
  }
}

export function assertNoViolations(vault: VaultDouble): void {
  assert.deepEqual(vault.violations, [], "requests outside Vault's API description");
}

/** Runs `fn`, expects it to throw, returns the error (and checks its text leaks nothing). */
export async function rejects(
  fn: () => Promise<unknown>,
  secrets: Iterable<string>,
): Promise<Error> {
  try {
    await fn();
  } catch (e) {
    assert.ok(e instanceof Error, "expected an Error");
    assertNoLeak(`${e.message}\n${e.stack ?? ""}\n${JSON.stringify(e)}`, secrets);
    return e;
  }
  assert.fail("expected an error");
}

/** A loopback port where nothing listens. */
export async function deadAddress(): Promise<string> {
  const v = await VaultDouble.start();
  const addr = v.address;
  await v.close();
  return addr;
}
