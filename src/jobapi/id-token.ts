// Fresh OIDC ID tokens through the job API, for jobs that run off Airlock's machine (a Kubernetes
// pod cannot reach the per-job socket the local sandbox binds):
//
//   GET /job-api/v1/id-token?audience=NAME   {"value": "<token>"}, or {"error": "..."}
//   GET /job-api/v1/jwks                     the issuer's public keys
//
// The job token authenticates the job (job-api.ts checks it, its attempt and that the attempt is
// still running; a GitLab pipeline's job shows the run's dispatch token and GitLab's own CI job
// token instead, see JobApi.foreign); the rest is the same endpoint the socket serves (secrets/oidc/endpoint.ts): it
// refuses once the job ended, bounds the count, re-checks the run's authorization at every issue,
// registers each token with the job's redactor and audits it. A job without `id_tokens` has no
// such endpoint behind its token and gets the job API's usual refusal.
import { DENIED, JobApiDenied, type JobApiEndpoint } from "./types.js";

/** The fresh-token URL a job is given, from the job API's base URL. */
export const idTokenUrl = (jobApi: string): string => `${jobApi.replace(/\/+$/, "")}/id-token`;

export function idTokenEndpoints(): JobApiEndpoint[] {
  const json = (status: number, body: unknown) => ({
    status,
    type: "application/json",
    body: JSON.stringify(body),
  });
  return [
    {
      method: "GET",
      name: "id-token",
      once: false,
      foreign: true,
      maxBody: 0,
      handle: async ({ attempt, query }) => {
        if (!attempt.idTokens) {
          attempt.note?.("an ID token was asked for and refused: the job declares no id_tokens");
          throw new JobApiDenied(403, DENIED);
        }
        const reply = await attempt.idTokens.issue(query.audience ?? null);
        return json(reply.status, reply.body);
      },
    },
    {
      method: "GET",
      name: "jwks",
      once: false,
      foreign: true,
      maxBody: 0,
      handle: async ({ attempt }) => {
        if (!attempt.idTokens) throw new JobApiDenied(403, DENIED);
        return json(200, await attempt.idTokens.jwks());
      },
    },
  ];
}
