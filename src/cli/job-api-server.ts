// The job API (jobapi/) on its own small HTTP server, for `airlock run` with executors whose jobs
// run elsewhere (`airlock serve` serves it beside the webhook). It listens only while the run
// lasts, on loopback unless told otherwise.
import Fastify from "fastify";
import { loadOrCreateDispatchKey } from "../dispatch/index.js";
import { JobApi } from "../jobapi/job-api.js";
import { jobApiRoute } from "../web/routes/job-api.js";
import { UserError } from "./errors.js";

export interface JobApiServer {
  jobApi: JobApi;
  close(): Promise<void>;
}

/** Serves the job API on `listen` (HOST:PORT, default 127.0.0.1:0), signing with the data dir's key. */
export async function startJobApiServer(dataDir: string, listen?: string): Promise<JobApiServer> {
  const key = loadOrCreateDispatchKey(dataDir);
  const jobApi = new JobApi({ privateKey: key.privateKey, publicKey: key.publicKey });
  const m = /^(?:\[([0-9a-fA-F:]+)\]|([^:\s]+)):(\d{1,5})$/.exec(listen ?? "127.0.0.1:0");
  if (!m || Number(m[3]) > 65535) {
    throw new UserError("--job-api-listen must be HOST:PORT, e.g. 0.0.0.0:8181");
  }
  const app = Fastify();
  await app.register(jobApiRoute, { jobApi });
  try {
    jobApi.url = await app.listen({ host: (m[1] ?? m[2])!, port: Number(m[3]) });
  } catch (e) {
    throw new UserError(
      `cannot serve the job API on ${listen} (${(e as NodeJS.ErrnoException).code ?? "error"}): choose another --job-api-listen`,
    );
  }
  return { jobApi, close: () => app.close() };
}
