// GET /.well-known/openid-configuration and the JWKS it points to: public and cacheable, so that
// clouds and Vault can verify the ID tokens Airlock issues to jobs.
import type { FastifyInstance } from "fastify";
import {
  CACHE_MAX_AGE_S,
  DISCOVERY_PATH,
  discoveryDocument,
  JWKS_PATH,
} from "../../secrets/oidc/discovery.js";
import type { OidcKeyStore } from "../../secrets/oidc/keys.js";

export interface OidcRouteOptions {
  /** The issuer URL (a function: it may be known only once the server listens). */
  issuer: () => string;
  keys: Pick<OidcKeyStore, "jwks">;
}

export async function oidcRoutes(app: FastifyInstance, opts: OidcRouteOptions) {
  const cache = `public, max-age=${CACHE_MAX_AGE_S}`;
  app.get(DISCOVERY_PATH, async (_req, reply) =>
    reply
      .header("cache-control", cache)
      .header("access-control-allow-origin", "*")
      .send(discoveryDocument(opts.issuer(), await opts.keys.jwks())),
  );
  app.get(JWKS_PATH, async (_req, reply) =>
    reply
      .header("cache-control", cache)
      .header("access-control-allow-origin", "*")
      .send(await opts.keys.jwks()),
  );
}
