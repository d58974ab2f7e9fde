// Sign-in records on every engine: credentials stored only hashed, links that work once and
// expire, revocation that ends sessions.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { sql } from "kysely";
import { hashCredential } from "../../src/store/kysely/sessions.js";
import type { SessionRepo } from "../../src/store/types.js";
import { engines, type OpenedTestStore } from "../support/engines.js";

/** Every column of every row of the sign-in tables, for "is this stored?" checks. */
async function dump(t: OpenedTestStore): Promise<string> {
  const out: string[] = [];
  for (const table of ["admin_tokens", "console_sessions", "login_links"]) {
    out.push(
      JSON.stringify((await sql`SELECT * FROM ${sql.table(table)}`.execute(t.store.db)).rows),
    );
  }
  return out.join("\n");
}

for (const engine of await engines())
  describe(`sign-in records on ${engine.name}`, () => {
    let t: OpenedTestStore;
    let sessions: SessionRepo;
    before(async () => {
      t = await engine.open();
      sessions = t.store.sessions;
    });
    after(() => t.close());

    it("stores tokens, sessions and links only as hashes", async () => {
      const { token } = await sessions.createToken({
        name: "t1",
        createdBy: "cli:test",
        expiresAt: null,
      });
      const sid = await sessions.createSession({ login: "alice", via: "github", ttlMs: 60_000 });
      const link = await sessions.createLink(60_000);
      const all = await dump(t);
      for (const raw of [token, sid, link]) {
        assert.ok(!all.includes(raw), "a raw credential is in the database");
        assert.ok(all.includes(hashCredential(raw)));
      }
      assert.match(token, /^airlock_[A-Za-z0-9_-]{43}$/);
      assert.equal((await sessions.verifyToken(token))?.name, "t1");
      assert.equal(await sessions.verifyToken(`${token}x`), undefined);
      assert.equal((await sessions.session(sid))?.login, "alice");
    });

    it("a sign-in link works once and not after it expires", async () => {
      const now = Date.now();
      const link = await sessions.createLink(1000, now);
      assert.equal(await sessions.consumeLink(link, now + 10), true);
      assert.equal(await sessions.consumeLink(link, now + 20), false);
      const late = await sessions.createLink(1000, now);
      assert.equal(await sessions.consumeLink(late, now + 1001), false);
      assert.equal(await sessions.consumeLink("not-a-link"), false);
    });

    it("sessions expire, and revoking a token ends the sessions made with it", async () => {
      const now = Date.now();
      const sid = await sessions.createSession({ login: "bob", via: "github", ttlMs: 1000 }, now);
      assert.ok(await sessions.session(sid, now + 999));
      assert.equal(await sessions.session(sid, now + 1000), undefined);

      const { info } = await sessions.createToken({
        name: "t2",
        createdBy: "x",
        expiresAt: null,
      });
      const tsid = await sessions.createSession({
        login: "token:t2",
        via: "token",
        tokenId: info.id,
        ttlMs: 60_000,
      });
      assert.ok(await sessions.session(tsid));
      assert.equal(await sessions.revokeToken("t2"), true);
      assert.equal(await sessions.session(tsid), undefined);
      assert.equal(await sessions.revokeToken("t2"), false);
    });

    it("expired tokens are refused", async () => {
      const { token } = await sessions.createToken({
        name: "old",
        createdBy: "x",
        expiresAt: Date.now() - 1,
      });
      assert.equal(await sessions.verifyToken(token), undefined);
    });
  });
