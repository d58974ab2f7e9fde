// Sign-in records and the `airlock token` command: credentials stored only hashed, links that
// work once and expire, revocation that ends sessions.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Command } from "commander";
import { parseExpires, registerToken } from "../../src/cli/commands/token.js";
import { UserError } from "../../src/cli/errors.js";
import { hashCredential } from "../../src/store/sessions.js";
import { type Env, makeEnv } from "./helpers.js";

/** Every text column of every row of the sign-in tables, for "is this stored?" checks. */
function dump(env: Env): string {
  return ["admin_tokens", "console_sessions", "login_links"]
    .map((t) => JSON.stringify(env.db.sqlite.prepare(`SELECT * FROM ${t}`).all()))
    .join("\n");
}

describe("session store", () => {
  let env: Env;
  before(async () => {
    env = await makeEnv();
  });
  after(() => env.cleanup());

  it("stores tokens, sessions and links only as hashes", async () => {
    const { token } = await env.sessions.createToken({
      name: "t1",
      createdBy: "cli:test",
      expiresAt: null,
    });
    const sid = await env.sessions.createSession({ login: "alice", via: "github", ttlMs: 60_000 });
    const link = await env.sessions.createLink(60_000);
    const all = dump(env);
    for (const raw of [token, sid, link]) {
      assert.ok(!all.includes(raw), "a raw credential is in the database");
      assert.ok(all.includes(hashCredential(raw)));
    }
    assert.match(token, /^airlock_[A-Za-z0-9_-]{43}$/);
    assert.equal((await env.sessions.verifyToken(token))?.name, "t1");
    assert.equal(await env.sessions.verifyToken(`${token}x`), undefined);
    assert.equal((await env.sessions.session(sid))?.login, "alice");
  });

  it("a sign-in link works once and not after it expires", async () => {
    const now = Date.now();
    const link = await env.sessions.createLink(1000, now);
    assert.equal(await env.sessions.consumeLink(link, now + 10), true);
    assert.equal(await env.sessions.consumeLink(link, now + 20), false);
    const late = await env.sessions.createLink(1000, now);
    assert.equal(await env.sessions.consumeLink(late, now + 1001), false);
    assert.equal(await env.sessions.consumeLink("not-a-link"), false);
  });

  it("sessions expire, and revoking a token ends the sessions made with it", async () => {
    const now = Date.now();
    const sid = await env.sessions.createSession({ login: "bob", via: "github", ttlMs: 1000 }, now);
    assert.ok(await env.sessions.session(sid, now + 999));
    assert.equal(await env.sessions.session(sid, now + 1000), undefined);

    const { info } = await env.sessions.createToken({
      name: "t2",
      createdBy: "x",
      expiresAt: null,
    });
    const tsid = await env.sessions.createSession({
      login: "token:t2",
      via: "token",
      tokenId: info.id,
      ttlMs: 60_000,
    });
    assert.ok(await env.sessions.session(tsid));
    assert.equal(await env.sessions.revokeToken("t2"), true);
    assert.equal(await env.sessions.session(tsid), undefined);
    assert.equal(await env.sessions.revokeToken("t2"), false);
  });

  it("expired tokens are refused", async () => {
    const { token } = await env.sessions.createToken({
      name: "old",
      createdBy: "x",
      expiresAt: Date.now() - 1,
    });
    assert.equal(await env.sessions.verifyToken(token), undefined);
  });
});

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
