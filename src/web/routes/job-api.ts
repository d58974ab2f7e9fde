// Serves the job API (jobapi/job-api.ts) over HTTP: every endpoint it knows, bodies taken as raw
// bytes whatever their type, refusals as JSON that names no detail.
import type { FastifyInstance, FastifyPluginAsync } from "fastify";
import { JOB_API_PREFIX, type JobApi } from "../../jobapi/job-api.js";
import { JobApiDenied } from "../../jobapi/types.js";

export const jobApiRoute: FastifyPluginAsync<{ jobApi: JobApi }> = async (
  app: FastifyInstance,
  { jobApi },
) => {
  const largest = Math.max(1, ...jobApi.endpoints.map((e) => e.maxBody));
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "buffer", bodyLimit: largest }, (_req, body, done) =>
    done(null, body),
  );
  app.route({
    method: ["GET", "PUT", "POST"],
    url: `${JOB_API_PREFIX}/:name`,
    bodyLimit: largest,
    handler: async (req, reply) => {
      const { name } = req.params as { name: string };
      try {
        const answer = await jobApi.call(req.method, name, {
          ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
          query: Object.fromEntries(
            Object.entries(req.query as Record<string, unknown>).filter(
              (e): e is [string, string] => typeof e[1] === "string",
            ),
          ),
          headers: req.headers,
          body: Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0),
        });
        reply.code(answer.status).header("cache-control", "no-store");
        if (answer.type) reply.type(answer.type);
        return reply.send(answer.body);
      } catch (e) {
        if (e instanceof JobApiDenied) return reply.code(e.status).send({ error: e.message });
        throw e;
      }
    },
  });
};
