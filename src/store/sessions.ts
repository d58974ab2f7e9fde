// Console sign-in records: sessions, admin tokens and one-time sign-in links. Callers hand in and
// get back raw credentials; only their SHA-256 is stored, so a copy of the database signs no one in.
// The credentials are 256-bit random strings, which is why a plain (unsalted, fast) hash suffices.
import { createHash, randomBytes } from "node:crypto";
import type SQLite from "better-sqlite3";
import type { Selectable } from "kysely";
import type { ConsoleSessionsTable, AdminTokensTable as Table } from "./sessions-schema.js";

type AdminTokensTable = Selectable<Table>;

export const TOKEN_PREFIX = "airlock_";

/** A fresh credential: 32 random bytes, base64url, with a prefix that secret scanners can match. */
export function newCredential(prefix = ""): string {
  return `${prefix}${randomBytes(32).toString("base64url")}`;
}

export function hashCredential(raw: string): string {
  return createHash("sha256").update(raw, "utf8").digest("hex");
}

export interface Session {
  login: string;
  via: "github" | "token" | "link";
  tokenId: number | null;
  createdAt: number;
  expiresAt: number;
}

export interface AdminToken {
  id: number;
  name: string;
  createdBy: string;
  createdAt: number;
  expiresAt: number | null;
  revokedAt: number | null;
  lastUsedAt: number | null;
}

const toToken = (r: AdminTokensTable): AdminToken => ({
  id: r.id,
  name: r.name,
  createdBy: r.created_by,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  revokedAt: r.revoked_at,
  lastUsedAt: r.last_used_at,
});

export class SessionStore {
  constructor(private readonly sqlite: SQLite.Database) {}

  /** Waits until no async transaction of another module is open on the shared connection. */
  private async ready(): Promise<void> {
    while (this.sqlite.inTransaction) await new Promise((r) => setImmediate(r));
  }

  // --- sessions -------------------------------------------------------------------------------

  /** Starts a session; the answer is the raw id for the cookie, never stored. */
  async createSession(
    s: { login: string; via: Session["via"]; tokenId?: number | null; ttlMs: number },
    now = Date.now(),
  ): Promise<string> {
    await this.ready();
    const id = newCredential();
    this.sqlite
      .prepare(
        `INSERT INTO console_sessions (id_hash, login, via, token_id, created_at, expires_at)
         VALUES (?, ?, ?, ?, ?, ?)`,
      )
      .run(hashCredential(id), s.login, s.via, s.tokenId ?? null, now, now + s.ttlMs);
    return id;
  }

  /** The live session with this raw id; a session from a revoked or expired token is over too. */
  async session(rawId: string, now = Date.now()): Promise<Session | undefined> {
    await this.ready();
    const r = this.sqlite
      .prepare(
        `SELECT s.* FROM console_sessions s LEFT JOIN admin_tokens t ON t.id = s.token_id
         WHERE s.id_hash = ? AND s.expires_at > ?
           AND (s.token_id IS NULL OR (t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > ?)))`,
      )
      .get(hashCredential(rawId), now, now) as ConsoleSessionsTable | undefined;
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
    await this.ready();
    this.sqlite
      .prepare(`DELETE FROM console_sessions WHERE id_hash = ?`)
      .run(hashCredential(rawId));
  }

  /** Forgets expired sessions and used or expired links. */
  async prune(now = Date.now()): Promise<number> {
    await this.ready();
    const a = this.sqlite.prepare(`DELETE FROM console_sessions WHERE expires_at <= ?`).run(now);
    const b = this.sqlite
      .prepare(`DELETE FROM login_links WHERE expires_at <= ? OR used_at IS NOT NULL`)
      .run(now);
    return a.changes + b.changes;
  }

  // --- admin tokens ---------------------------------------------------------------------------

  /** Creates a named token; the raw token is in the answer only. Names are unique. */
  async createToken(
    t: { name: string; createdBy: string; expiresAt: number | null },
    now = Date.now(),
  ): Promise<{ token: string; info: AdminToken }> {
    await this.ready();
    const token = newCredential(TOKEN_PREFIX);
    const r = this.sqlite
      .prepare(
        `INSERT INTO admin_tokens (name, hash, created_by, created_at, expires_at)
         VALUES (?, ?, ?, ?, ?) RETURNING *`,
      )
      .get(t.name, hashCredential(token), t.createdBy, now, t.expiresAt) as AdminTokensTable;
    return { token, info: toToken(r) };
  }

  async tokenNameTaken(name: string): Promise<boolean> {
    await this.ready();
    return this.sqlite.prepare(`SELECT 1 FROM admin_tokens WHERE name = ?`).get(name) !== undefined;
  }

  /** The token's record when it is valid now (not revoked, not expired); notes its use. */
  async verifyToken(raw: string, now = Date.now()): Promise<AdminToken | undefined> {
    await this.ready();
    if (!raw.startsWith(TOKEN_PREFIX)) return undefined;
    const r = this.sqlite
      .prepare(
        `SELECT * FROM admin_tokens WHERE hash = ? AND revoked_at IS NULL
         AND (expires_at IS NULL OR expires_at > ?)`,
      )
      .get(hashCredential(raw), now) as AdminTokensTable | undefined;
    if (!r) return undefined;
    this.sqlite.prepare(`UPDATE admin_tokens SET last_used_at = ? WHERE id = ?`).run(now, r.id);
    return toToken({ ...r, last_used_at: now });
  }

  async listTokens(): Promise<AdminToken[]> {
    await this.ready();
    return (
      this.sqlite.prepare(`SELECT * FROM admin_tokens ORDER BY id`).all() as AdminTokensTable[]
    ).map(toToken);
  }

  /** Revokes by name; false when no live token has it. Its sessions end with it. */
  async revokeToken(name: string, now = Date.now()): Promise<boolean> {
    await this.ready();
    return (
      this.sqlite
        .prepare(`UPDATE admin_tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL`)
        .run(now, name).changes > 0
    );
  }

  // --- one-time sign-in links -----------------------------------------------------------------

  async createLink(ttlMs: number, now = Date.now()): Promise<string> {
    await this.ready();
    const raw = newCredential();
    this.sqlite
      .prepare(`INSERT INTO login_links (hash, created_at, expires_at) VALUES (?, ?, ?)`)
      .run(hashCredential(raw), now, now + ttlMs);
    return raw;
  }

  /** Marks the link used and answers true, once, while it has not expired. */
  async consumeLink(raw: string, now = Date.now()): Promise<boolean> {
    await this.ready();
    // One UPDATE with the conditions in it: two simultaneous requests cannot both win.
    return (
      this.sqlite
        .prepare(
          `UPDATE login_links SET used_at = ? WHERE hash = ? AND used_at IS NULL AND expires_at > ?`,
        )
        .run(now, hashCredential(raw), now).changes === 1
    );
  }
}
