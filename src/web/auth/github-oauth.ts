// GitHub's OAuth web flow, for signing in to the console: redirect to /login/oauth/authorize with
// a random state, exchange the code at /login/oauth/access_token, read the login from GET /user.
// The user's access token is used for that one request and then dropped: Airlock keeps none.

export interface GitHubOAuthOptions {
  clientId: string;
  clientSecret: string;
  /** github.com or the Enterprise host: https://github.com by default. */
  webUrl?: string;
  /** The REST root: https://api.github.com by default (https://HOST/api/v3 on Enterprise). */
  apiUrl?: string;
  fetch?: typeof fetch;
}

export class OAuthError extends Error {}

const LOGIN = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/;

const trimSlash = (u: string) => u.replace(/\/+$/, "");

export function authorizeUrl(o: GitHubOAuthOptions, redirectUri: string, state: string): string {
  const u = new URL(`${trimSlash(o.webUrl ?? "https://github.com")}/login/oauth/authorize`);
  u.searchParams.set("client_id", o.clientId);
  u.searchParams.set("redirect_uri", redirectUri);
  u.searchParams.set("state", state);
  u.searchParams.set("allow_signup", "false");
  return u.toString();
}

/** Exchanges the code and answers the GitHub login it belongs to. */
export async function loginFromCode(
  o: GitHubOAuthOptions,
  code: string,
  redirectUri: string,
): Promise<string> {
  const f = o.fetch ?? fetch;
  const signal = AbortSignal.timeout(10_000);
  let tokenRes: Response;
  try {
    tokenRes = await f(`${trimSlash(o.webUrl ?? "https://github.com")}/login/oauth/access_token`, {
      method: "POST",
      headers: {
        accept: "application/json",
        "content-type": "application/json",
        "user-agent": "airlock",
      },
      body: JSON.stringify({
        client_id: o.clientId,
        client_secret: o.clientSecret,
        code,
        redirect_uri: redirectUri,
      }),
      signal,
    });
  } catch {
    throw new OAuthError("GitHub could not be reached to finish the sign-in");
  }
  const body = (await tokenRes.json().catch(() => ({}))) as {
    access_token?: unknown;
    error?: unknown;
  };
  if (!tokenRes.ok || typeof body.access_token !== "string") {
    // GitHub's error code is a fixed word (bad_verification_code, ...): safe to name.
    const code =
      typeof body.error === "string" && /^[a-z_]{1,60}$/.test(body.error) ? body.error : "";
    throw new OAuthError(`GitHub refused the sign-in code${code ? ` (${code})` : ""}: try again`);
  }
  let userRes: Response;
  try {
    userRes = await f(`${trimSlash(o.apiUrl ?? "https://api.github.com")}/user`, {
      headers: {
        accept: "application/vnd.github+json",
        authorization: `Bearer ${body.access_token}`,
        "x-github-api-version": "2022-11-28",
        "user-agent": "airlock",
      },
      signal,
    });
  } catch {
    throw new OAuthError("GitHub could not be reached to read your account");
  }
  const user = (await userRes.json().catch(() => ({}))) as { login?: unknown };
  if (!userRes.ok || typeof user.login !== "string" || !LOGIN.test(user.login)) {
    throw new OAuthError("GitHub did not say who you are: try again");
  }
  return user.login;
}
