// Who is asking: a browser session (cookie), or an admin token (Authorization: Bearer). Private
// console routes use `guard`: anonymous → sign-in page (HTML) or 401 (API, streams), signed in but
// not a trusted member → 403 (DESIGN.md invariant 5).
import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { SessionRepo } from "../../store/index.js";
import { html, page } from "../console/html.js";
import type { GitHubOAuthOptions } from "./github-oauth.js";
import { isHttps, type OriginOptions, sameOrigin } from "./request.js";

export const SESSION_COOKIE = "airlock_session";

export interface Principal {
  /** For the audit log and the page header: a GitHub login, "token:<name>" or "local-admin". */
  actor: string;
  via: "github" | "token" | "link" | "bearer";
  trusted: boolean;
  /** The session's CSRF token; null for bearer requests, which carry no ambient credential. */
  csrf: string | null;
  /** Warnings about the server the console shows this viewer on every page (not from sign-in). */
  notices?: readonly string[];
}

/** What the console writes to the audit log; `AuditRepo` from src/store/audit.ts satisfies it. */
export interface AuditWriter {
  record(e: {
    action: string;
    actor: string;
    runId?: string | null;
    jobId?: string | null;
    detail?: string | null;
  }): Promise<void>;
}

export interface AuthOptions extends OriginOptions {
  sessions: SessionRepo;
  /** Whether a GitHub login is a trusted member now (org/team/permission rules, cached briefly). */
  isTrusted(login: string): Promise<boolean>;
  /** Enables "Sign in with GitHub". */
  github?: GitHubOAuthOptions;
  /** Session lifetime; 12 hours by default. */
  sessionTtlMs?: number;
  /** Secure cookies: "auto" (default) sets them when the request came over TLS. */
  secureCookies?: boolean | "auto";
  audit?: AuditWriter;
}

export type Kind = "page" | "api";

const principals = new WeakMap<FastifyRequest, Principal>();

function cookieValue(req: FastifyRequest, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function csrfFor(sessionId: string): string {
  return createHash("sha256").update(`airlock-csrf:${sessionId}`).digest("base64url");
}

function equal(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export class Auth {
  constructor(readonly opts: AuthOptions) {}

  get ttlMs(): number {
    return this.opts.sessionTtlMs ?? 12 * 3600_000;
  }

  /** The signed-in principal, null when anonymous, "invalid" for a bad bearer token. */
  async principal(req: FastifyRequest): Promise<Principal | null | "invalid"> {
    const authz = req.headers.authorization;
    if (typeof authz === "string" && authz.length > 0) {
      const m = /^Bearer\s+(\S+)$/i.exec(authz);
      const token = m ? await this.opts.sessions.verifyToken(m[1] as string) : undefined;
      if (!token) return "invalid";
      return { actor: `token:${token.name}`, via: "bearer", trusted: true, csrf: null };
    }
    const sid = cookieValue(req, SESSION_COOKIE);
    if (!sid || sid.length > 200) return null;
    const s = await this.opts.sessions.session(sid);
    if (!s) return null;
    // A GitHub user's membership is asked again on each request (the lookup is cached), so a
    // member who leaves the org loses the console with it; admin sign-ins are trusted by origin.
    const trusted = s.via === "github" ? await this.opts.isTrusted(s.login) : true;
    return { actor: s.login, via: s.via, trusted, csrf: csrfFor(sid) };
  }

  /** A preHandler for private routes. */
  guard(kind: Kind) {
    return async (req: FastifyRequest, reply: FastifyReply) => {
      const p = await this.principal(req);
      if (p === "invalid") {
        return reply
          .code(401)
          .header("www-authenticate", 'Bearer error="invalid_token"')
          .send({ error: "the token is unknown, revoked or expired" });
      }
      if (!p) {
        if (kind === "page" && req.method === "GET") {
          return reply.redirect(`/login?next=${encodeURIComponent(req.url)}`, 303);
        }
        return reply
          .code(401)
          .header("www-authenticate", "Bearer")
          .send({ error: "sign in first: a session cookie or an admin token is required" });
      }
      if (!p.trusted) {
        if (kind === "page") {
          return reply.code(403).type("text/html; charset=utf-8").send(forbiddenPage(p));
        }
        return reply.code(403).send({ error: `${p.actor} is not a trusted member` });
      }
      principals.set(req, p);
    };
  }

  /** The principal `guard` admitted. */
  static of(req: FastifyRequest): Principal {
    const p = principals.get(req);
    if (!p) throw new Error("route is missing its auth guard");
    return p;
  }

  /**
   * A state-changing form post is accepted only from this site and with the session's token.
   * Bearer requests carry no cookie a third-party page could borrow, so they need neither.
   */
  csrfOk(req: FastifyRequest, p: Principal, token: unknown): boolean {
    if (p.via === "bearer") return true;
    if (!sameOrigin(req, this.opts)) return false;
    return typeof token === "string" && p.csrf !== null && equal(token, p.csrf);
  }

  /** A Set-Cookie value with the console's attributes. */
  cookie(req: FastifyRequest, name: string, value: string, maxAgeSec: number, path = "/"): string {
    const secure =
      this.opts.secureCookies === undefined || this.opts.secureCookies === "auto"
        ? isHttps(req, this.opts)
        : this.opts.secureCookies;
    return `${name}=${value}; Path=${path}; Max-Age=${maxAgeSec}; HttpOnly; SameSite=Lax${secure ? "; Secure" : ""}`;
  }

  /** Starts a session and returns its cookie. */
  async startSession(
    req: FastifyRequest,
    s: { login: string; via: "github" | "token" | "link"; tokenId?: number | null },
  ): Promise<string> {
    const id = await this.opts.sessions.createSession({ ...s, ttlMs: this.ttlMs });
    await this.opts.audit?.record({ action: "sign-in", actor: s.login, detail: `via ${s.via}` });
    return this.cookie(req, SESSION_COOKIE, id, Math.floor(this.ttlMs / 1000));
  }

  async endSession(req: FastifyRequest): Promise<string> {
    const sid = cookieValue(req, SESSION_COOKIE);
    if (sid) await this.opts.sessions.endSession(sid);
    return this.cookie(req, SESSION_COOKIE, "", 0);
  }

  cookieValue(req: FastifyRequest, name: string): string | undefined {
    return cookieValue(req, name);
  }
}

function forbiddenPage(p: Principal): string {
  return page({
    title: "Not a trusted member",
    user: { actor: p.actor, csrf: p.csrf },
    body: html`<h1>Not a trusted member</h1>
<p>You are signed in as <strong>${p.actor}</strong>, who is not a trusted member of this
project. Private run pages and logs are only for trusted members.</p>
<p>If you should have access, ask a maintainer to add you to the organisation or team.</p>`,
  });
}
