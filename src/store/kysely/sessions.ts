// Console sign-in records: sessions, admin tokens and one-time sign-in links. Callers hand in and
// get back raw credentials; only their SHA-256 is stored, so a copy of the database signs no one in.
// The credentials are 256-bit random strings, which is why a plain (unsalted, fast) hash suffices.
import { createHash, randomBytes } from "node:crypto";
import type { Selectable } from "kysely";
import type { AdminTokensTable } from "../sessions-schema.js";
import type { AdminToken, Session, SessionRepo } from "../types.js";
import { type Ctx, changed } from "./context.js";

export const TOKEN_PREFIX = "airlock_";

/** A fresh credential: 32 random bytes, base64url, with a prefix that secret scanners can match. */
export function newCredential(prefix = ""): string {
  return `${prefix}${randomBytes(32).toString("base64url")}`;
}

export function hashCredential(raw: string): string {
  return createHash("sha256").update(raw, "utf8").digest("hex");
}

const toToken = (r: Selectable<AdminTokensTable>): AdminToken => ({
  id: r.id,
  name: r.name,
  createdBy: r.created_by,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  revokedAt: r.revoked_at,
  lastUsedAt: r.last_used_at,
});

export class SessionRepoImpl implements SessionRepo {
  constructor(private readonly c: Ctx) {}

  async createSession(
    s: { login: string; via: Session["via"]; tokenId?: number | null; ttlMs: number },
    now = Date.now(),
  ): Promise<string> {
    const id = newCredential();
    await this.c.db
      .insertInto("console_sessions")
      .values({
        id_hash: hashCredential(id),
        login: s.login,
        via: s.via,
        token_id: s.tokenId ?? null,
        created_at: now,
        expires_at: now + s.ttlMs,
      })
      .execute();
    return id;
  }

  /** The live session with this raw id; a session from a revoked or expired token is over too. */
  async session(rawId: string, now = Date.now()): Promise<Session | undefined> {
    const r = await this.c.db
      .selectFrom("console_sessions as s")
      .leftJoin("admin_tokens as t", "t.id", "s.token_id")
      .selectAll("s")
      .where("s.id_hash", "=", hashCredential(rawId))
      .where("s.expires_at", ">", now)
      .where((eb) =>
        eb.or([
          eb("s.token_id", "is", null),
          eb.and([
            eb("t.revoked_at", "is", null),
            eb.or([eb("t.expires_at", "is", null), eb("t.expires_at", ">", now)]),
          ]),
        ]),
      )
      .executeTakeFirst();
    if (!r) return undefined;
    return {
      login: r.login,
      via: r.via as Session["via"],
      tokenId: r.token_id,
      createdAt: r.created_at,
      expiresAt: r.expires_at,
    };
  }

  async endSession(rawId: string): Promise<void> {
    await this.c.db
      .deleteFrom("console_sessions")
      .where("id_hash", "=", hashCredential(rawId))
      .execute();
  }

  async prune(now = Date.now()): Promise<number> {
    const a = await this.c.db
      .deleteFrom("console_sessions")
      .where("expires_at", "<=", now)
      .executeTakeFirst();
    const b = await this.c.db
      .deleteFrom("login_links")
      .where((eb) => eb.or([eb("expires_at", "<=", now), eb("used_at", "is not", null)]))
      .executeTakeFirst();
    return changed(a) + changed(b);
  }

  async createToken(
    t: { name: string; createdBy: string; expiresAt: number | null },
    now = Date.now(),
  ): Promise<{ token: string; info: AdminToken }> {
    const token = newCredential(TOKEN_PREFIX);
    const r = await this.c.db
      .insertInto("admin_tokens")
      .values({
        name: t.name,
        hash: hashCredential(token),
        created_by: t.createdBy,
        created_at: now,
        expires_at: t.expiresAt,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return { token, info: toToken(r) };
  }

  async tokenNameTaken(name: string): Promise<boolean> {
    const r = await this.c.db
      .selectFrom("admin_tokens")
      .select("id")
      .where("name", "=", name)
      .executeTakeFirst();
    return r !== undefined;
  }

  /** The token's record when it is valid now (not revoked, not expired); notes its use. */
  async verifyToken(raw: string, now = Date.now()): Promise<AdminToken | undefined> {
    if (!raw.startsWith(TOKEN_PREFIX)) return undefined;
    const r = await this.c.db
      .updateTable("admin_tokens")
      .set({ last_used_at: now })
      .where("hash", "=", hashCredential(raw))
      .where("revoked_at", "is", null)
      .where((eb) => eb.or([eb("expires_at", "is", null), eb("expires_at", ">", now)]))
      .returningAll()
      .executeTakeFirst();
    return r ? toToken(r) : undefined;
  }

  async listTokens(): Promise<AdminToken[]> {
    const rows = await this.c.db.selectFrom("admin_tokens").selectAll().orderBy("id").execute();
    return rows.map(toToken);
  }

  /** Revokes by name; false when no live token has it. Its sessions end with it. */
  async revokeToken(name: string, now = Date.now()): Promise<boolean> {
    const r = await this.c.db
      .updateTable("admin_tokens")
      .set({ revoked_at: now })
      .where("name", "=", name)
      .where("revoked_at", "is", null)
      .executeTakeFirst();
    return changed(r) > 0;
  }

  async createLink(ttlMs: number, now = Date.now()): Promise<string> {
    const raw = newCredential();
    await this.c.db
      .insertInto("login_links")
      .values({ hash: hashCredential(raw), created_at: now, expires_at: now + ttlMs })
      .execute();
    return raw;
  }

  async consumeLink(raw: string, now = Date.now()): Promise<boolean> {
    // One UPDATE with the conditions in it: two simultaneous requests cannot both win.
    const r = await this.c.db
      .updateTable("login_links")
      .set({ used_at: now })
      .where("hash", "=", hashCredential(raw))
      .where("used_at", "is", null)
      .where("expires_at", ">", now)
      .executeTakeFirst();
    return changed(r) === 1;
  }
}
