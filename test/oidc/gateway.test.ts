// ID tokens through the gateway (webhooks, GitHub double, real sandboxes): a token is issued
// only to a restricted job of the trusted definition, only once the exact commit is authorized,
// and says how (approval, by whom, from a fork), with nothing a pull request's text chose.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { createLocalJWKSet, jwtVerify } from "jose";
import { EmbeddedStore } from "../../src/secrets/embedded.js";
import { OidcKeyStore } from "../../src/secrets/oidc/keys.js";
import {
  commentPayload,
  PUBLIC_URL,
  prPayload,
  REPO,
  TRUSTED,
  UNTRUSTED,
  World,
} from "../gateway-flow/harness.js";

const BASE = `version: 1
trust:
  orgs: [acme]
jobs:
  unit:
    run: echo "unit sees \${CLOUD_ID_TOKEN:-no token}"
  deploy:
    needs: [unit]
    id_tokens:
      CLOUD_ID_TOKEN: { aud: sts.amazonaws.com }
    run: printf 'rev %s\\n' "$(printf %s "$CLOUD_ID_TOKEN" | rev)"
`;

const HEAD = `${BASE}  sneaky:
    id_tokens:
      CLOUD_ID_TOKEN: { aud: sts.amazonaws.com }
    run: printf 'rev %s\\n' "$(printf %s "$CLOUD_ID_TOKEN" | rev)"
`;

/** A branch name that tries to forge a subject field and a wildcard. */
const HOSTILE_REF = "x:pr:1:job:deploy*";

let w: World;
before(async () => {
  w = await World.create(BASE);
});
after(async () => {
  w?.gh.assertNoViolations();
  await w?.close();
});

const tokensIssued = () =>
  w.server.db.audit
    .list({ action: "id-token" })
    .then((l) => l.map((e) => ({ job: e.jobId, claims: JSON.parse(e.detail!) })));

test("a fork PR's job gets its token only after approval of that SHA, with the approval's claims", async () => {
  const pr = w.openPr({
    author: UNTRUSTED,
    files: { ".airlock.yml": HEAD },
    headRef: HOSTILE_REF,
    headRepo: "mallory/app",
  });
  const opened = await w.send("pull_request", prPayload("opened", pr, { baseSha: w.baseSha }));
  assert.equal(opened.status, 202);
  await w.settle();
  assert.equal(w.checks(pr.headSha)["airlock/unit"], "success");
  assert.equal(w.checks(pr.headSha)["airlock/deploy"], undefined, "withheld until approved");
  assert.equal(w.checks(pr.headSha)["airlock/sneaky"], undefined, "a head job never runs");
  assert.deepEqual(await tokensIssued(), [], "no token for an unapproved SHA");
  const unit = (await w.jobsOf(pr.headSha)).find((j) => j.job_id === "unit")!;
  assert.match(await w.logs(unit.run_id, "unit"), /unit sees no token/);

  await w.send("issue_comment", commentPayload(pr.number, "/ok-to-test", TRUSTED));
  await w.settle();
  assert.equal(w.checks(pr.headSha)["airlock/deploy"], "success");
  assert.equal(w.checks(pr.headSha)["airlock/sneaky"], undefined);
  const issued = await tokensIssued();
  assert.deepEqual(
    issued.map((i) => i.job),
    ["deploy"],
  );

  const deploy = (await w.jobsOf(pr.headSha)).find((j) => j.job_id === "deploy")!;
  assert.equal(deploy.restricted, 1, "its logs are private");
  const log = await w.logs(deploy.run_id, "deploy");
  const token = [...(/^rev (\S+)$/m.exec(log)?.[1] ?? "")].reverse().join("");
  const keys = new OidcKeyStore({
    db: w.server.db,
    store: new EmbeddedStore({ dataDir: w.dataDir, store: w.server.db }),
  });
  const { payload } = await jwtVerify(token, createLocalJWKSet(await keys.jwks()), {
    issuer: PUBLIC_URL,
    audience: "sts.amazonaws.com",
  });
  assert.equal(payload.sub, `repo:${REPO}:pr:${pr.number}:job:deploy`);
  assert.equal(payload.repository, REPO);
  assert.equal(payload.pr, String(pr.number));
  assert.equal(payload.sha, pr.headSha);
  assert.equal(payload.base_ref, "main");
  assert.equal(payload.fork, "true");
  assert.equal(payload.authorization, "approval");
  assert.equal(payload.authorized_by, TRUSTED);
  assert.equal(payload.run_id, deploy.run_id);
  assert.equal(payload.source, "github");
  // The PR's branch name is in no claim.
  for (const v of Object.values(payload)) assert.ok(!String(v).includes("deploy*"));
  assert.deepEqual(issued[0]!.claims, payload);
});

test("a push voids the approval: the new head's job gets no token", async () => {
  const pr = w.openPr({ author: UNTRUSTED });
  await w.send("pull_request", prPayload("opened", pr, { baseSha: w.baseSha }));
  await w.settle();
  await w.send("issue_comment", commentPayload(pr.number, "/ok-to-test", TRUSTED));
  await w.settle();
  const before = (await tokensIssued()).length;
  const next = w.push(pr);
  await w.send("pull_request", prPayload("synchronize", pr, { baseSha: w.baseSha }));
  await w.settle();
  assert.equal(w.checks(next)["airlock/deploy"], undefined);
  const after = await tokensIssued();
  assert.equal(after.length, before);
  assert.ok(after.every((t) => t.claims.sha !== next));
});

test("a trusted member's own PR: authorization trusted-author, not a fork", async () => {
  const pr = w.openPr({ author: TRUSTED });
  await w.send("pull_request", prPayload("opened", pr, { baseSha: w.baseSha }));
  await w.settle();
  assert.equal(w.checks(pr.headSha)["airlock/deploy"], "success");
  const mine = (await tokensIssued()).filter((t) => t.claims.sha === pr.headSha);
  assert.equal(mine.length, 1);
  assert.equal(mine[0]!.claims.authorization, "trusted-author");
  assert.equal(mine[0]!.claims.authorized_by, TRUSTED);
  assert.equal(mine[0]!.claims.fork, "false");
});
