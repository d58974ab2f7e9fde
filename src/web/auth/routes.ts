// Sign-in routes: the sign-in page, an admin token pasted into a form, one-time sign-in links
// (embedded single-machine mode), GitHub's OAuth web flow, and sign-out.
import { randomBytes } from "node:crypto";
import formbody from "@fastify/formbody";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { securityHeadersHook } from "../console/headers.js";
import { html, page, query, type SafeHtml } from "../console/html.js";
import { Auth, type AuthOptions } from "./auth.js";
import { authorizeUrl, loginFromCode, OAuthError } from "./github-oauth.js";
import { ownOrigin, safeNext, sameOrigin } from "./request.js";

const OAUTH_COOKIE = "airlock_oauth";
const OAUTH_PATH = "/login/github";
/** Who a one-time link signs in: whoever can read `airlock serve`'s output on the machine. */
export const LINK_ACTOR = "local-admin";

const MESSAGES: Record<string, string> = {
  link: "This sign-in link has expired or was already used. Print a new one with `airlock token link`, or sign in with an admin token.",
  token: "That token is unknown, revoked or expired.",
  state:
    "The GitHub sign-in could not be matched to this browser (it took too long, or cookies are blocked). Try again.",
  origin: "The sign-in form was sent from another site and was refused.",
};

function loginPage(opts: AuthOptions, next: string, message?: string | SafeHtml): string {
  const gh = opts.github
    ? html`<section aria-labelledby="gh"><h2 id="gh">Team members</h2>
<p><a class="button" href="${OAUTH_PATH}${query({ next })}">Sign in with GitHub</a></p></section>`
    : "";
  return page({
    title: "Sign in",
    body: html`<h1>Sign in</h1>
${message ? html`<p class="notice error" role="alert">${message}</p>` : ""}
${gh}
<section aria-labelledby="tok"><h2 id="tok">Admin token</h2>
<form method="post" action="/login/token" class="stack">
<label for="token">Token (from <code>airlock token create</code>)</label>
<input id="token" name="token" type="password" autocomplete="off" required spellcheck="false">
<input type="hidden" name="next" value="${next}">
<button type="submit">Sign in</button></form></section>`,
  });
}

function sendPage(reply: FastifyReply, code: number, body: string) {
  return reply.code(code).type("text/html; charset=utf-8").send(body);
}

/** Registers the sign-in routes and answers the `Auth` that private routes guard with. */
export async function registerAuth(app: FastifyInstance, opts: AuthOptions): Promise<Auth> {
  const auth = new Auth(opts);
  await opts.sessions.prune();
  await app.register(async (scope) => {
    await scope.register(formbody, { bodyLimit: 16_384 });
    scope.addHook("onRequest", securityHeadersHook);

    scope.get(
      "/login",
      async (req: FastifyRequest<{ Querystring: { next?: string; e?: string } }>, reply) => {
        const msg = req.query.e ? MESSAGES[req.query.e] : undefined;
        return sendPage(reply, 200, loginPage(opts, safeNext(req.query.next), msg));
      },
    );

    scope.post(
      "/login/token",
      async (req: FastifyRequest<{ Body: { token?: string; next?: string } }>, reply) => {
        const next = safeNext(req.body?.next);
        if (!sameOrigin(req, opts))
          return sendPage(reply, 403, loginPage(opts, next, MESSAGES.origin));
        const raw = typeof req.body?.token === "string" ? req.body.token.trim() : "";
        const token = raw ? await opts.sessions.verifyToken(raw) : undefined;
        if (!token) return sendPage(reply, 401, loginPage(opts, next, MESSAGES.token));
        const cookie = await auth.startSession(req, {
          login: `token:${token.name}`,
          via: "token",
          tokenId: token.id,
        });
        return reply.header("set-cookie", cookie).redirect(next, 303);
      },
    );

    scope.get(
      "/login/once",
      async (req: FastifyRequest<{ Querystring: { t?: string } }>, reply) => {
        // A HEAD (link previews, scanners) must not spend the link.
        if (req.method === "HEAD") return reply.code(200).type("text/html; charset=utf-8").send();
        const t = req.query.t;
        if (typeof t !== "string" || t.length > 200 || !(await opts.sessions.consumeLink(t))) {
          return sendPage(reply, 401, loginPage(opts, "/runs", MESSAGES.link));
        }
        const cookie = await auth.startSession(req, { login: LINK_ACTOR, via: "link" });
        // Redirect so the used token leaves the address bar and history entry.
        return reply.header("set-cookie", cookie).redirect("/runs", 303);
      },
    );

    scope.get(
      OAUTH_PATH,
      async (req: FastifyRequest<{ Querystring: { next?: string } }>, reply) => {
        if (!opts.github)
          return reply.code(404).send({ error: "GitHub sign-in is not configured" });
        const state = randomBytes(24).toString("base64url");
        const next = Buffer.from(safeNext(req.query.next)).toString("base64url");
        const redirectUri = `${ownOrigin(req, opts)}${OAUTH_PATH}/callback`;
        return reply
          .header("set-cookie", auth.cookie(req, OAUTH_COOKIE, `${state}.${next}`, 600, OAUTH_PATH))
          .redirect(authorizeUrl(opts.github, redirectUri, state), 302);
      },
    );

    scope.get(
      `${OAUTH_PATH}/callback`,
      async (req: FastifyRequest<{ Querystring: { code?: string; state?: string } }>, reply) => {
        if (!opts.github)
          return reply.code(404).send({ error: "GitHub sign-in is not configured" });
        const [state, nextB64] = (auth.cookieValue(req, OAUTH_COOKIE) ?? "").split(".");
        reply.header("set-cookie", auth.cookie(req, OAUTH_COOKIE, "", 0, OAUTH_PATH));
        const { code } = req.query;
        if (!state || req.query.state !== state || typeof code !== "string" || code.length > 200) {
          return sendPage(reply, 400, loginPage(opts, "/runs", MESSAGES.state));
        }
        const next = safeNext(Buffer.from(nextB64 ?? "", "base64url").toString());
        let login: string;
        try {
          login = await loginFromCode(
            opts.github,
            code,
            `${ownOrigin(req, opts)}${OAUTH_PATH}/callback`,
          );
        } catch (e) {
          if (!(e instanceof OAuthError)) throw e;
          return sendPage(reply, 502, loginPage(opts, next, e.message));
        }
        const cookie = await auth.startSession(req, { login, via: "github" });
        return reply.header("set-cookie", cookie).redirect(next, 303);
      },
    );

    scope.post("/logout", async (req: FastifyRequest<{ Body: { _csrf?: string } }>, reply) => {
      const p = await auth.principal(req);
      if (p && p !== "invalid" && !auth.csrfOk(req, p, req.body?._csrf)) {
        return reply.code(403).send({ error: "the sign-out form was not sent from this console" });
      }
      const cookie = await auth.endSession(req);
      return reply.header("set-cookie", cookie).redirect("/login", 303);
    });
  });
  return auth;
}
