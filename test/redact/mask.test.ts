// `airlock mask` as a filter: values from secret sets (an injected loader) and from the
// environment, token formats, warnings for short values, and clear errors.
import assert from "node:assert/strict";
import { PassThrough, Readable } from "node:stream";
import { describe, it } from "node:test";
import { Command } from "commander";
import { registerMask } from "../../src/cli/commands/mask.js";
import { UserError } from "../../src/cli/errors.js";
import type { RegisteredSecret } from "../../src/redact/types.js";

async function runMask(
  args: string[],
  input: string[],
  sets: Record<string, RegisteredSecret[]> = {},
  env: NodeJS.ProcessEnv = {},
) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on("data", (d: Buffer) => out.push(d));
  stderr.on("data", (d: Buffer) => err.push(d));
  const asked: string[][] = [];
  const program = new Command("airlock").exitOverride();
  registerMask(program, {
    loadSetValues: async (names) => {
      asked.push(names);
      return names.flatMap((n) => sets[n] ?? []);
    },
    stdin: Readable.from(input.map((s) => Buffer.from(s))),
    stdout,
    stderr,
    env,
  });
  await program.parseAsync(["node", "airlock", "mask", ...args]);
  return { out: Buffer.concat(out).toString(), err: Buffer.concat(err).toString(), asked };
}

describe("airlock mask", () => {
  it("masks the values of the named sets, split across writes", async () => {
    const sets = {
      "functional-tests": [
        { name: "AWS_SECRET_ACCESS_KEY", value: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" },
      ],
      other: [{ name: "SCW_SECRET_KEY", value: "11111111-2222-3333-4444-555555555555" }],
    };
    const text = `key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY scw=11111111-2222-3333-4444-555555555555 b64=${Buffer.from("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY").toString("base64")}\n`;
    const r = await runMask(
      ["--set", "functional-tests", "--set", "other"],
      [text.slice(0, 20), text.slice(20)],
      sets,
    );
    assert.deepEqual(r.asked, [["functional-tests", "other"]]);
    assert.equal(
      r.out,
      "key=[redacted:AWS_SECRET_ACCESS_KEY] scw=[redacted:SCW_SECRET_KEY] b64=[redacted:AWS_SECRET_ACCESS_KEY]\n",
    );
  });

  it("masks environment values named by --from-env, and known tokens", async () => {
    const r = await runMask(
      ["--from-env", "DEPLOY_TOKEN"],
      ["t=deploy-token-value-1 AKIAIOSFODNN7EXAMPLE\n"],
      {},
      {
        DEPLOY_TOKEN: "deploy-token-value-1",
      },
    );
    assert.equal(r.out, "t=[redacted:DEPLOY_TOKEN] [redacted:aws-access-key-id]\n");
    assert.deepEqual(r.asked, []);
  });

  it("warns about short values by name only", async () => {
    const r = await runMask(["--from-env", "PIN"], ["pin 4711\n"], {}, { PIN: "4711" });
    assert.equal(r.out, "pin 4711\n");
    assert.match(r.err, /warning: secret PIN is not masked/);
    assert.ok(!r.err.includes("4711"));
  });

  it("gives one clear error for a missing variable or a bad minimum", async () => {
    await assert.rejects(runMask(["--from-env", "NOPE"], [""]), (e: unknown) => {
      assert.ok(e instanceof UserError);
      assert.match(e.message, /NOPE is not set/);
      return true;
    });
    await assert.rejects(runMask(["--min-length", "zero"], [""]), UserError);
  });
});
