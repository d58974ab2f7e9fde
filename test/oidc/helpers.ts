// An OIDC issuer over a throwaway data directory, with a clock the test moves, and the identity
// of a job to mint for.
import type { FastifyInstance } from "fastify";
import { EmbeddedStore } from "../../src/secrets/embedded.js";
import type { JobIdentity } from "../../src/secrets/oidc/claims.js";
import { IdTokenIssuer } from "../../src/secrets/oidc/issuer.js";
import { OidcKeyStore } from "../../src/secrets/oidc/keys.js";
import type { AuditRepo, OpenedStore } from "../../src/store/index.js";
import { GatewayMetrics } from "../../src/web/metrics.js";
import { createServer } from "../../src/web/server.js";
import { hexKey, openTestDb, tempDataDir } from "../secrets/helpers.js";

export interface TestIssuer {
  dataDir: string;
  db: OpenedStore;
  store: EmbeddedStore;
  keys: OidcKeyStore;
  issuer: IdTokenIssuer;
  audit: AuditRepo;
  clock: { now: number };
  /** The served issuer (discovery + JWKS on a real loopback server). */
  url: string;
  app: FastifyInstance;
  close(): Promise<void>;
}

export const MASTER_ENV = { AIRLOCK_MASTER_KEY: hexKey(7) };

/** Starts a real server on 127.0.0.1:0 whose URL is the issuer. */
export async function startIssuer(start = Date.now()): Promise<TestIssuer> {
  const tmp = tempDataDir();
  const db = await openTestDb(tmp.dir);
  const clock = { now: start };
  const now = () => clock.now;
  const audit = db.audit;
  const store = new EmbeddedStore({ dataDir: tmp.dir, store: db, env: MASTER_ENV, now });
  const keys = new OidcKeyStore({ db, store, now });
  let url = "";
  const app = await createServer({
    metrics: new GatewayMetrics({ queueDepth: () => 0 }),
    oidc: { issuer: () => url, keys },
  });
  url = await app.listen({ host: "127.0.0.1", port: 0 });
  const issuer = new IdTokenIssuer({ issuer: url, keys, now });
  return {
    dataDir: tmp.dir,
    db,
    store,
    keys,
    issuer,
    audit,
    clock,
    url,
    app,
    async close() {
      await app.close();
      await db.close();
      tmp.cleanup();
    },
  };
}

export function jobIdentity(over: Partial<JobIdentity> = {}): JobIdentity {
  return {
    source: "github",
    repo: "example-org/deploy-engine",
    pr: 42,
    sha: "3b18e512dba79e4c8300dd08aeb37f8e728b8dad",
    baseRef: "main",
    fork: true,
    authorization: "approval",
    authorizedBy: "maintainer-1",
    attempt: 1,
    runId: "run-1",
    jobId: "functional-aws-infra",
    template: "functional",
    ...over,
  };
}
