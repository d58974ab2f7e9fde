// A GitHub double for the OAuth web flow, on 127.0.0.1: /login/oauth/authorize signs in as a
// chosen login and redirects back with a code, /login/oauth/access_token exchanges it, and
// /api/user answers who it is. Requests are checked the way GitHub documents them (client id and
// secret, the same redirect_uri, single-use codes, JSON accepted), and GET /user against GitHub's
// published REST description; any deviation is recorded as a violation.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

const DESCRIPTION = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  "../../../shared/oracles/github/api.github.com.json",
);

let described: Set<string> | null = null;
/** "GET /user", ... for every operation in GitHub's REST description. */
function operations(): Set<string> {
  if (!described) {
    const doc = JSON.parse(readFileSync(DESCRIPTION, "utf8")) as {
      paths: Record<string, Record<string, unknown>>;
    };
    described = new Set();
    for (const [p, ops] of Object.entries(doc.paths)) {
      for (const m of Object.keys(ops)) described.add(`${m.toUpperCase()} ${p}`);
    }
  }
  return described;
}

export interface OAuthDouble {
  url: string;
  /** The REST root to configure: `${url}/api`. */
  apiUrl: string;
  clientId: string;
  clientSecret: string;
  /** Who the next authorization signs in as. */
  login: string;
  violations: string[];
  close(): Promise<void>;
}

async function body(req: IncomingMessage): Promise<string> {
  let s = "";
  for await (const chunk of req) s += chunk;
  return s;
}

export async function startOAuthDouble(login: string): Promise<OAuthDouble> {
  const codes = new Map<string, { redirectUri: string; login: string }>();
  const tokens = new Map<string, string>();
  const d: OAuthDouble = {
    url: "",
    apiUrl: "",
    clientId: `Iv1.${randomBytes(8).toString("hex")}`,
    clientSecret: randomBytes(20).toString("hex"),
    login,
    violations: [],
    close: async () => {},
  };
  const server: Server = createServer(async (req, res) => {
    const u = new URL(req.url ?? "/", d.url);
    const json = (code: number, v: unknown) => {
      res.writeHead(code, { "content-type": "application/json" });
      res.end(JSON.stringify(v));
    };
    try {
      if (req.method === "GET" && u.pathname === "/login/oauth/authorize") {
        const redirect = u.searchParams.get("redirect_uri") ?? "";
        const state = u.searchParams.get("state") ?? "";
        if (u.searchParams.get("client_id") !== d.clientId)
          d.violations.push("authorize: wrong client_id");
        if (!/^http:\/\/127\.0\.0\.1:\d+\/login\/github\/callback$/.test(redirect)) {
          d.violations.push(`authorize: unexpected redirect_uri ${redirect}`);
        }
        if (state.length < 20) d.violations.push("authorize: state missing or weak");
        const code = randomBytes(10).toString("hex");
        codes.set(code, { redirectUri: redirect, login: d.login });
        res.writeHead(302, {
          location: `${redirect}?code=${code}&state=${encodeURIComponent(state)}`,
        });
        res.end();
        return;
      }
      if (req.method === "POST" && u.pathname === "/login/oauth/access_token") {
        const b = JSON.parse(await body(req)) as Record<string, string>;
        if (!/application\/json/.test(req.headers.accept ?? ""))
          d.violations.push("token: Accept is not JSON");
        if (b.client_id !== d.clientId || b.client_secret !== d.clientSecret) {
          d.violations.push("token: wrong client credentials");
          return json(200, { error: "incorrect_client_credentials" });
        }
        const grant = codes.get(b.code ?? "");
        codes.delete(b.code ?? "");
        if (!grant) return json(200, { error: "bad_verification_code" });
        if (grant.redirectUri !== b.redirect_uri) {
          d.violations.push("token: redirect_uri differs from the authorization's");
          return json(200, { error: "redirect_uri_mismatch" });
        }
        const token = `gho_${randomBytes(18).toString("hex")}`;
        tokens.set(token, grant.login);
        return json(200, { access_token: token, token_type: "bearer", scope: "" });
      }
      if (u.pathname.startsWith("/api/")) {
        const op = `${req.method} ${u.pathname.slice(4)}`;
        if (!operations().has(op)) d.violations.push(`not in GitHub's REST description: ${op}`);
        const m = /^Bearer (\S+)$/.exec(req.headers.authorization ?? "");
        const who = m ? tokens.get(m[1] as string) : undefined;
        if (!who) return json(401, { message: "Bad credentials" });
        if (op === "GET /user") return json(200, { login: who, id: 1, type: "User" });
        return json(404, { message: "Not Found" });
      }
      d.violations.push(`unexpected request ${req.method} ${u.pathname}`);
      json(404, { message: "Not Found" });
    } catch (e) {
      d.violations.push(`double failed: ${String(e)}`);
      json(500, {});
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  d.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  d.apiUrl = `${d.url}/api`;
  d.close = () => new Promise((r) => server.close(() => r()));
  return d;
}
