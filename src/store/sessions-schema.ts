// Table types for console sign-in: browser sessions, admin API tokens and one-time sign-in links.
// Every credential is stored only as its SHA-256: the database never holds one that works.
import type { Generated } from "kysely";

export interface ConsoleSessionsTable {
  /** SHA-256 (hex) of the session id in the cookie. */
  id_hash: string;
  /** Who signed in: a GitHub login, or "token:<name>" / "link" for admin sign-ins. */
  login: string;
  /** How: "github", "token" or "link". */
  via: string;
  /** The admin token a "token" session came from: revoking it ends the session. */
  token_id: number | null;
  created_at: number;
  expires_at: number;
}

export interface AdminTokensTable {
  id: Generated<number>;
  name: string;
  /** SHA-256 (hex) of the token. */
  hash: string;
  created_by: string;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
  last_used_at: number | null;
}

export interface LoginLinksTable {
  /** SHA-256 (hex) of the one-time token in the link. */
  hash: string;
  created_at: number;
  expires_at: number;
  used_at: number | null;
}

export interface SessionsDatabase {
  console_sessions: ConsoleSessionsTable;
  admin_tokens: AdminTokensTable;
  login_links: LoginLinksTable;
}
