// A deploy check that holds no secret: the job proves who it is with the ID token Airlock gave it
// (DEPLOY_ID_TOKEN), and a fresh one for a second audience from AIRLOCK_ID_TOKEN_REQUEST_URL. This
// script plays the cloud's part: it verifies each token against the issuer's published keys, as
// AWS STS or Vault would, and checks the claims a trust policy would bind (audience, repository,
// job, commit). It runs on any executor: in the local sandbox the endpoint is the job's own Unix
// socket (AIRLOCK_JOB_API_SOCKET, no network needed); elsewhere (a Kubernetes pod) it is Airlock's
// job API over HTTP(S).
import { createPublicKey, verify } from "node:crypto";
import { request } from "node:http";

const endpoint = new URL(process.env.AIRLOCK_ID_TOKEN_REQUEST_URL);
const auth = { authorization: `Bearer ${process.env.AIRLOCK_ID_TOKEN_REQUEST_TOKEN}` };

/** GET `url` with the job's request token, over the socket when the job has one. */
async function get(url) {
  const socketPath = process.env.AIRLOCK_JOB_API_SOCKET;
  if (!socketPath) {
    const res = await fetch(url, { headers: auth });
    return { status: res.status, body: await res.json() };
  }
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path: url.pathname + url.search, headers: auth }, (res) => {
      let body = "";
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode, body: JSON.parse(body) }));
    });
    req.on("error", reject);
    req.end();
  });
}

/** Verifies a compact JWS (RS256 or ES256) with the issuer's JWKS; returns its claims. */
function verifyJwt(token, jwks) {
  const [h, p, s] = token.split(".");
  const header = JSON.parse(Buffer.from(h, "base64url"));
  const jwk = jwks.keys.find((k) => k.kid === header.kid);
  if (!jwk) throw new Error(`no published key ${header.kid}`);
  const alg = { RS256: {}, ES256: { dsaEncoding: "ieee-p1363" } }[header.alg];
  if (!alg) throw new Error(`unexpected algorithm ${header.alg}`);
  const key = { key: createPublicKey({ key: jwk, format: "jwk" }), ...alg };
  if (!verify("sha256", Buffer.from(`${h}.${p}`), key, Buffer.from(s, "base64url"))) {
    throw new Error("the signature does not verify");
  }
  return JSON.parse(Buffer.from(p, "base64url"));
}

function check(name, claims, aud) {
  const now = Date.now() / 1000;
  const problems = [
    claims.aud !== aud && `aud is ${claims.aud}, not ${aud}`,
    !(claims.exp > now && claims.nbf <= now + 60) && "not valid now",
    claims.job !== process.env.AIRLOCK_JOB && `job is ${claims.job}`,
    claims.sha !== process.env.AIRLOCK_SHA && `sha is ${claims.sha}`,
    claims.run_id !== process.env.AIRLOCK_RUN_ID && `run is ${claims.run_id}`,
  ].filter(Boolean);
  if (problems.length) throw new Error(`${name}: ${problems.join("; ")}`);
  console.log(
    `${name}: verified for ${claims.aud}: sub ${claims.sub}, ${claims.authorization} by ${claims.authorized_by}`,
  );
}

// The issuer's public keys are served beside the endpoint.
const jwks = (await get(new URL("jwks", endpoint))).body;
check("DEPLOY_ID_TOKEN", verifyJwt(process.env.DEPLOY_ID_TOKEN, jwks), "deploy-engine-demo");

const url = new URL(endpoint);
url.searchParams.set("audience", "deploy-engine-registry");
const fresh = await get(url);
if (fresh.status !== 200) throw new Error(`no fresh token: ${fresh.body.error}`);
check("fresh token", verifyJwt(fresh.body.value, jwks), "deploy-engine-registry");

// A careless debug line: Airlock masks the token in the log.
console.log(`token: ${process.env.DEPLOY_ID_TOKEN}`);
