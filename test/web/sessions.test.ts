// The `airlock token` command (the sign-in records themselves: test/store/sessions.test.ts).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Command } from "commander";
import { parseExpires, registerToken } from "../../src/cli/commands/token.js";
import { UserError } from "../../src/cli/errors.js";
import { type Env, makeEnv } from "./helpers.js";

describe("airlock token", () => {
  let env: Env;
  before(async () => {
    env = await makeEnv();
  });
  after(() => env.cleanup());

  async function cli(...args: string[]): Promise<{ out: string; err: string }> {
    const program = new Command("airlock").exitOverride();
    registerToken(program);
    let out = "";
    let err = "";
    const o = process.stdout.write.bind(process.stdout);
    const e = process.stderr.write.bind(process.stderr);
    process.stdout.write = ((s: string) => {
      out += s;
      return true;
    }) as typeof process.stdout.write;
    process.stderr.write = ((s: string) => {
      err += s;
      return true;
    }) as typeof process.stderr.write;
    try {
      await program.parseAsync(["node", "airlock", "token", ...args, "--data-dir", env.dir]);
    } finally {
      process.stdout.write = o;
      process.stderr.write = e;
    }
    return { out, err };
  }

  it("create prints the token once; list shows names, never values; revoke ends it", async () => {
    const { out, err } = await cli("create", "--name", "ops", "--expires", "30d");
    const token = out.trim();
    assert.match(token, /^airlock_/);
    assert.match(err, /shown only now/);
    assert.ok(await env.sessions.verifyToken(token));
    const audit = await env.audit.list({ action: "token-create" });
    assert.equal(audit.length, 1);
    assert.ok(!JSON.stringify(audit).includes(token));

    const list = await cli("list");
    assert.match(list.out, /^ops\tactive/m);
    assert.ok(!list.out.includes(token));

    await assert.rejects(cli("create", "--name", "ops"), (e: unknown) => {
      assert.ok(e instanceof UserError);
      assert.match(e.message, /a token named "ops" exists/);
      return true;
    });
    await cli("revoke", "ops");
    assert.equal(await env.sessions.verifyToken(token), undefined);
    assert.match((await cli("list")).out, /^ops\trevoked/m);
    await assert.rejects(cli("revoke", "ops"), /no active token named "ops"/);
  });

  it("link prints a one-time sign-in link for the given address", async () => {
    const { out } = await cli("link", "--url", "http://127.0.0.1:9999/");
    const m = /^http:\/\/127\.0\.0\.1:9999\/login\/once\?t=([A-Za-z0-9_-]+)\n$/.exec(out);
    assert.ok(m, out);
    assert.equal(await env.sessions.consumeLink(m[1] as string), true);
    await assert.rejects(cli("link", "--url", "javascript:alert(1)"), /not an http\(s\) address/);
  });

  it("bad input gets one clear message", () => {
    assert.equal(parseExpires("never"), null);
    assert.equal(parseExpires("2h"), 7_200_000);
    assert.throws(() => parseExpires("soon"), /use e\.g\. 30d, 12h, 90m, or never/);
    assert.throws(() => parseExpires("0d"), UserError);
  });
});
