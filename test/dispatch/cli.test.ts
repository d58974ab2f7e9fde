import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { Command } from "commander";
import { registerDispatch, verifyDispatchCommand } from "../../src/cli/commands/dispatch.js";
import { UserError } from "../../src/cli/errors.js";
import { loadOrCreateDispatchKey, signDispatch } from "../../src/dispatch/index.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "airlock-dispatch-cli-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const dataDir = path.join(dir, ".airlock");
const key = loadOrCreateDispatchKey(dataDir);
const pemFile = path.join(dir, "dispatch.pem");
writeFileSync(pemFile, key.publicPem);

const NOW = Date.now();
const SHA = "0123456789abcdef0123456789abcdef01234567";
const token = signDispatch(
  {
    runId: "r1",
    repo: "org/engine",
    sha: SHA,
    tests: ["aws-infra", "do-managed"],
    approver: "alice",
    expiresAt: NOW + 600_000,
    ref: "main",
  },
  key.privateKey,
);

const defaults = {
  tokenEnv: "AIRLOCK_DISPATCH",
  publicKeyEnv: "AIRLOCK_DISPATCH_PUBLIC_KEY",
  format: "csv",
};
const ciEnv = {
  AIRLOCK_DISPATCH: token,
  AIRLOCK_DISPATCH_PUBLIC_KEY: key.publicPem,
  AIRLOCK_SOURCE_REPO: "org/engine",
  AIRLOCK_SOURCE_SHA: SHA,
  AIRLOCK_TESTS: "aws-infra,do-managed",
  GITLAB_CI: "true",
  CI_COMMIT_REF_NAME: "main",
};

function failsWith(fn: () => unknown, re: RegExp, exitCode: number): void {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof UserError, String(e));
    assert.match(e.message, re);
    assert.equal(e.exitCode, exitCode);
    assert.doesNotMatch(e.message, /\n/);
    assert.ok(!e.message.includes(token), "the token is never echoed");
    return;
  }
  assert.fail("expected a UserError");
}

describe("airlock verify-dispatch", () => {
  it("verifies from GitLab CI variables and prints the tests", () => {
    assert.equal(verifyDispatchCommand(defaults, ciEnv, NOW), "aws-infra,do-managed\n");
    assert.equal(
      verifyDispatchCommand({ ...defaults, format: "json" }, ciEnv, NOW),
      '["aws-infra","do-managed"]\n',
    );
    assert.equal(
      verifyDispatchCommand({ ...defaults, format: "lines" }, ciEnv, NOW),
      "aws-infra\ndo-managed\n",
    );
  });

  it("reads the key from a file, or from a GitLab file variable holding a path", () => {
    const env = { ...ciEnv, AIRLOCK_DISPATCH_PUBLIC_KEY: undefined };
    assert.ok(verifyDispatchCommand({ ...defaults, publicKey: pemFile }, env, NOW));
    assert.ok(
      verifyDispatchCommand(defaults, { ...ciEnv, AIRLOCK_DISPATCH_PUBLIC_KEY: pemFile }, NOW),
    );
    failsWith(() => verifyDispatchCommand(defaults, env, NOW), /no dispatch public key/, 2);
  });

  it("exits 1 with one line on any mismatch", () => {
    failsWith(
      () => verifyDispatchCommand(defaults, { ...ciEnv, AIRLOCK_SOURCE_SHA: "f".repeat(40) }, NOW),
      /^dispatch rejected: .*commit/,
      1,
    );
    failsWith(
      () => verifyDispatchCommand(defaults, { ...ciEnv, AIRLOCK_SOURCE_REPO: "evil/engine" }, NOW),
      /repository org\/engine, not evil\/engine/,
      1,
    );
    failsWith(
      () => verifyDispatchCommand(defaults, { ...ciEnv, CI_COMMIT_REF_NAME: "other" }, NOW),
      /pipeline ref main, not other/,
      1,
    );
    failsWith(
      () =>
        verifyDispatchCommand(defaults, { ...ciEnv, AIRLOCK_TESTS: "aws-infra,everything" }, NOW),
      /differ from the signed selection/,
      1,
    );
    failsWith(() => verifyDispatchCommand(defaults, ciEnv, NOW + 601_000), /expired/, 1);
    failsWith(
      () => verifyDispatchCommand(defaults, { ...ciEnv, AIRLOCK_DISPATCH: `${token}x` }, NOW),
      /signature/,
      1,
    );
    failsWith(
      () => verifyDispatchCommand(defaults, { ...ciEnv, AIRLOCK_DISPATCH: "" }, NOW),
      /no dispatch token/,
      1,
    );
  });

  it("insists on knowing what is under test", () => {
    const env = { ...ciEnv, AIRLOCK_SOURCE_SHA: undefined };
    failsWith(
      () => verifyDispatchCommand(defaults, env, NOW),
      /needs the repository and commit/,
      2,
    );
    assert.ok(verifyDispatchCommand({ ...defaults, sha: SHA }, env, NOW));
    failsWith(
      () => verifyDispatchCommand({ ...defaults, format: "xml" }, ciEnv, NOW),
      /--format/,
      2,
    );
  });

  it("is wired to commander with --token-env", async () => {
    const program = new Command().exitOverride();
    registerDispatch(program);
    const saved = { ...process.env };
    const out: string[] = [];
    const write = process.stdout.write;
    process.stdout.write = ((s: string) => {
      out.push(s);
      return true;
    }) as typeof process.stdout.write;
    try {
      process.env.MY_TOKEN = token;
      await program.parseAsync(
        [
          "verify-dispatch",
          "--token-env",
          "MY_TOKEN",
          "--public-key",
          pemFile,
          "--repo",
          "org/engine",
          "--sha",
          SHA,
          "--ref",
          "main",
        ],
        { from: "user" },
      );
      process.env.AIRLOCK_HOME = dataDir;
      await program.parseAsync(["dispatch-key"], { from: "user" });
    } finally {
      process.stdout.write = write;
      process.env = saved;
    }
    assert.equal(out[0], "aws-infra,do-managed\n");
    assert.equal(out[1], key.publicPem);
  });
});
