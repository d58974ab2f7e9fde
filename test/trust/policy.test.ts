// The approval policy on its own: which rules a comparison brings in (CODEOWNERS-style patterns,
// renames both ways, a cut-short list bringing in all), how approvals are counted (a person once,
// only while they count), and what a bot's scope covers.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { TrustSchema } from "../../src/config/schema.js";
import type { ChangedFile, Comparison } from "../../src/forge/types.js";
import {
  botScope,
  describeRequirement,
  requirementsFor,
  scopeCovers,
  tally,
} from "../../src/trust/policy.js";

const trust = TrustSchema.parse({
  rules: [
    { name: "pipeline", paths: [".airlock.yml", "scripts/ci/", "/Makefile"], approvals: 2 },
    { name: "secrets", paths: ["src/**/secrets/", "*.pem"], teams: ["acme/security"] },
  ],
  bots: ["renovate[bot]", { login: "Dependabot[bot]", secrets: ["npm"], jobs: ["smoke"] }],
});

const cmp = (files: ChangedFile[], complete = true): Comparison => ({
  status: "ahead",
  aheadBy: 1,
  files,
  complete,
  url: "https://github.com/acme/app/compare/a...b",
});
const mod = (path: string): ChangedFile => ({ path, change: "modified" });
const names = (c: Comparison) => requirementsFor(trust.rules, c).map((r) => r.name);

describe("rules by changed paths", () => {
  it("a commit touching no rule's paths needs the default approval only", () => {
    assert.deepEqual(names(cmp([mod("README.md"), mod("docs/scripts/ci/x.md")])), ["default"]);
  });

  it("patterns match as CODEOWNERS does: anywhere, anchored, folders, **", () => {
    assert.deepEqual(names(cmp([mod("sub/.airlock.yml")])), ["default", "pipeline"]);
    assert.deepEqual(names(cmp([mod("scripts/ci/deep/run.sh")])), ["default", "pipeline"]);
    assert.deepEqual(names(cmp([mod("Makefile")])), ["default", "pipeline"]);
    assert.deepEqual(names(cmp([mod("lib/Makefile")])), ["default"], "/Makefile is the root's");
    assert.deepEqual(names(cmp([mod("src/a/b/secrets/k.ts")])), ["default", "secrets"]);
    assert.deepEqual(names(cmp([mod("certs/key.PEM")])), ["default", "secrets"], "case ignored");
  });

  it("a rename counts where the file came from: moving a script out of the folder is risky", () => {
    const r = requirementsFor(
      trust.rules,
      cmp([{ path: "tools/run.sh", change: "renamed", previousPath: "scripts/ci/run.sh" }]),
    );
    assert.deepEqual(
      r.map((x) => [x.name, x.paths]),
      [
        ["default", []],
        ["pipeline", ["scripts/ci/run.sh"]],
      ],
    );
  });

  it("a list the forge cut short brings in every rule", () => {
    assert.deepEqual(names(cmp([mod("README.md")], false)), ["default", "pipeline", "secrets"]);
  });

  it("says what each requirement asks for", () => {
    const [d, p, s] = requirementsFor(trust.rules, cmp([mod(".airlock.yml"), mod("a.pem")], false));
    assert.equal(describeRequirement(d!), "an approval from a trusted member");
    assert.equal(describeRequirement(p!), "2 approvals from distinct trusted members");
    assert.equal(describeRequirement(s!), "an approval from a member of acme/security");
  });
});

describe("counting approvals", () => {
  const reqs = requirementsFor(trust.rules, cmp([mod(".airlock.yml"), mod("src/secrets/a.ts")]));
  const trusted = new Set(["alice", "bob", "sec"]);
  const security = new Set(["sec"]);
  const counts = async (login: string, teams: string[]) =>
    trusted.has(login.toLowerCase()) && (teams.length === 0 || security.has(login.toLowerCase()));

  it("one person approving twice (in any case) counts once", async () => {
    const s = await tally(reqs, ["alice", "Alice", "ALICE"], counts);
    assert.equal(s.met, false);
    assert.deepEqual(s.approvers, ["alice"]);
    const pipeline = s.requirements.find((r) => r.name === "pipeline")!;
    assert.deepEqual([pipeline.by, pipeline.missing], [["alice"], 1]);
  });

  it("two distinct members meet the pipeline rule; the team rule wants its team", async () => {
    const s = await tally(reqs, ["alice", "bob"], counts);
    assert.deepEqual(
      s.requirements.map((r) => [r.name, r.missing]),
      [
        ["default", 0],
        ["pipeline", 0],
        ["secrets", 1],
      ],
    );
    const all = await tally(reqs, ["alice", "sec"], counts);
    assert.equal(all.met, true);
  });

  it("an approver no longer trusted does not count", async () => {
    const s = await tally(reqs, ["alice", "mallory"], counts);
    assert.deepEqual(s.requirements[1]!.by, ["alice"]);
  });
});

describe("bot scopes", () => {
  it("a scope covers named jobs, and jobs whose sets are all in it", () => {
    const scope = botScope(trust, "dependabot[bot]")!;
    assert.ok(scopeCovers(scope, { id: "smoke", template: "smoke", secrets: ["cloud"] }));
    assert.ok(scopeCovers(scope, { id: "install", template: "install", secrets: ["npm"] }));
    assert.ok(!scopeCovers(scope, { id: "f-aws", template: "f", secrets: ["npm", "cloud"] }));
  });

  it("a login alone covers nothing; an unlisted bot has no scope", () => {
    const scope = botScope(trust, "renovate[bot]")!;
    assert.ok(!scopeCovers(scope, { id: "install", template: "install", secrets: ["npm"] }));
    assert.equal(botScope(trust, "evil[bot]"), undefined);
  });
});
