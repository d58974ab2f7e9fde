// One GitHub App as the gateway uses it: a Forge per installation (created once, so each keeps
// its token cache) and the installation token that clones the PR's code.
import type { Forge } from "../types.js";
import { AppAuth } from "./app-auth.js";
import { GitHubClient } from "./client.js";
import { GitHubHttp } from "./http.js";

export interface GitHubApp {
  forgeFor(installationId: number): Forge;
  /** A bare installation access token, for git over HTTPS. */
  token(installationId: number): Promise<string>;
}

export function githubApp(o: { apiUrl: string; appId: number; privateKey: string }): GitHubApp {
  const http = new GitHubHttp({ baseUrl: o.apiUrl });
  const auth = new AppAuth(http, o.appId, o.privateKey);
  const forges = new Map<number, Forge>();
  return {
    forgeFor(id) {
      let f = forges.get(id);
      if (!f) {
        f = new GitHubClient(http, auth.installation(id));
        forges.set(id, f);
      }
      return f;
    },
    async token(id) {
      return (await auth.installation(id).authorization()).replace(/^token /, "");
    },
  };
}
