// A job's fresh-token endpoint on a Unix socket of its own, which the local executor binds into
// the sandbox. A socket needs no network (jobs have none by default) and no port other jobs
// could reach: only the job it is bound into sees it, and its credential is still checked.
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import type { JWK } from "jose";
import { JWKS_PATH } from "./discovery.js";
import type { JobTokenEndpoint } from "./endpoint.js";

/** The request path: `GET /id-token?audience=NAME`. */
export const ID_TOKEN_PATH = "/id-token";
/** The URL jobs are given; over the socket, the host name is never looked up. */
export const SOCKET_REQUEST_URL = `http://airlock${ID_TOKEN_PATH}`;
/** The issuer's keys beside the endpoint, as on the job API: `new URL("jwks", REQUEST_URL)`. */
const BESIDE_JWKS_PATH = "/jwks";

export interface JobSocket {
  /** Host path of the socket. */
  path: string;
  close(): Promise<void>;
}

/**
 * Serves `endpoint`, and the issuer's public keys at JWKS_PATH and /jwks (no credential: they
 * are public), so that a job can verify tokens as a cloud would without network.
 */
export async function serveOnSocket(
  endpoint: JobTokenEndpoint,
  jwks: () => Promise<{ keys: JWK[] }>,
  dir: string = tmpdir(),
): Promise<JobSocket> {
  // A private directory: the socket's path stays short (sun_path is 108 bytes) and unguessable.
  const home = await mkdtemp(path.join(dir, "airlock-api-"));
  const socketPath = path.join(home, "api.sock");
  const server = createServer((req, res) => {
    handle(endpoint, jwks, req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ path: socketPath }, () => resolve());
  });
  return {
    path: socketPath,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(home, { recursive: true, force: true });
    },
  };
}

async function handle(
  endpoint: JobTokenEndpoint,
  jwks: () => Promise<{ keys: JWK[] }>,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const send = (status: number, body: Record<string, unknown>): void => {
    res
      .writeHead(status, { "content-type": "application/json", "cache-control": "no-store" })
      .end(JSON.stringify(body));
  };
  const url = new URL(req.url ?? "/", "http://airlock");
  if (req.method !== "GET") return send(405, { error: `use GET ${ID_TOKEN_PATH}` });
  if (url.pathname === JWKS_PATH || url.pathname === BESIDE_JWKS_PATH) {
    return send(200, await jwks());
  }
  if (url.pathname !== ID_TOKEN_PATH) return send(404, { error: `use GET ${ID_TOKEN_PATH}` });
  const reply = await endpoint.request(req.headers.authorization, url.searchParams.get("audience"));
  send(reply.status, reply.body);
}
