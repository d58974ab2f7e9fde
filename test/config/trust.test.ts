// The `trust:` section: scoped bots (and the old shape, a login alone), approval rules by changed
// paths, and notifications; each mistake named at its line.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError, parseConfig } from "../../src/config/loader.js";

const BASE = `version: 1
secrets:
  cloud: {}
  npm: {}
jobs:
  unit:
    run: "true"
  functional:
    matrix: { provider: [aws, scw] }
    secrets: [cloud]
    run: "true"
  publish-check:
    secrets: [npm]
    run: "true"
`;

const withTrust = (trust: string) => `${BASE}trust:\n${trust}`;

function errors(text: string): string[] {
  try {
    parseConfig(text, ".airlock.yml");
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e.message.split("\n");
  }
  assert.fail("the configuration was accepted");
}

describe("trust.bots", () => {
  it("a login alone still loads, as a bot that runs public jobs only", () => {
    const c = parseConfig(withTrust('  bots: ["dependabot[bot]"]\n'), ".airlock.yml");
    assert.deepEqual(c.trust.bots, [{ login: "dependabot[bot]", jobs: [], secrets: [] }]);
  });

  it("a scope names restricted jobs (a template or an expansion) and secret sets", () => {
    const c = parseConfig(
      withTrust(
        "  bots:\n    - login: dependabot[bot]\n      jobs: [functional-aws]\n      secrets: [npm]\n",
      ),
      ".airlock.yml",
    );
    assert.deepEqual(c.trust.bots[0], {
      login: "dependabot[bot]",
      jobs: ["functional-aws"],
      secrets: ["npm"],
    });
  });

  it("refuses unknown or public jobs, undeclared sets, a bot listed twice", () => {
    const e = errors(
      withTrust(`  bots:
    - login: dependabot[bot]
      jobs: [functionl, unit]
      secrets: [npmm]
    - dependabot[bot]
`),
    ).join("\n");
    assert.match(
      e,
      /:18:14: trust\.bots\[0\]\.jobs\[0\]: no job named "functionl" \(did you mean "functional"\?\)/,
    );
    assert.match(e, /trust\.bots\[0\]\.jobs\[1\]: "unit" is a public job/);
    assert.match(e, /trust\.bots\[0\]\.secrets\[0\]: no secret set named "npmm"/);
    assert.match(e, /trust\.bots\[1\]: dependabot\[bot\] is listed twice/);
  });

  it("refuses a login that is not a bot's", () => {
    assert.match(
      errors(withTrust("  bots: [renovate]\n")).join("\n"),
      /trust\.bots\[0\]: a bot's login ends in "\[bot\]".*list it under `users`/,
    );
  });
});

describe("trust.rules", () => {
  it("a rule names paths and asks for more approvals or a team", () => {
    const c = parseConfig(
      withTrust(`  rules:
    - name: pipeline
      paths: [.airlock.yml, scripts/]
      approvals: 2
    - paths: ["src/**/secrets/"]
      teams: [acme/security]
`),
      ".airlock.yml",
    );
    assert.deepEqual(c.trust.rules, [
      { name: "pipeline", paths: [".airlock.yml", "scripts/"], approvals: 2, teams: [] },
      { paths: ["src/**/secrets/"], approvals: 1, teams: ["acme/security"] },
    ]);
  });

  it("refuses negated or empty patterns, bad teams, no paths, too many approvals", () => {
    const e = errors(
      withTrust(`  rules:
    - paths: ["!src/", ""]
      approvals: 2
    - paths: [x]
      teams: ["a/b/c"]
    - paths: []
      approvals: 11
`),
    ).join("\n");
    assert.match(e, /trust\.rules\[0\]\.paths\[0\]: a pattern cannot start with '!'/);
    assert.match(e, /trust\.rules\[0\]\.paths\[1\]: a path pattern cannot be empty/);
    assert.match(e, /trust\.rules\[1\]\.teams\[0\]: a team is "org\/team-slug"/);
    assert.match(e, /trust\.rules\[2\]\.paths: a rule needs at least one path pattern/);
    assert.match(e, /trust\.rules\[2\]\.approvals: at most 10 approvals/);
  });

  it("refuses a rule no stricter than the default", () => {
    assert.match(
      errors(withTrust("  rules:\n    - paths: [docs/]\n")).join("\n"),
      /trust\.rules\[0\]: this rule asks for what every commit needs already/,
    );
  });
});

describe("trust.notify", () => {
  it("names who is told: teams or users mentioned, a webhook's secret set, a reminder delay", () => {
    const c = parseConfig(
      withTrust(`  notify:
    mention: [acme/maintainers, alice]
    webhook: npm
    remind_after: 4h
`),
      ".airlock.yml",
    );
    assert.deepEqual(c.trust.notify, {
      mention: ["acme/maintainers", "alice"],
      webhook: "npm",
      remind_after: "4h",
    });
  });

  it("refuses an undeclared set, a mention with @ or a path, nobody to tell, a zero delay", () => {
    const e = errors(
      withTrust(`  notify:
    mention: ["@alice", "a/b/c"]
    webhook: chat
    remind_after: 0s
`),
    ).join("\n");
    assert.match(
      e,
      /trust\.notify\.mention\[0\]: a mention is a team \("org\/team-slug"\) or a GitHub login, without the @/,
    );
    assert.match(e, /trust\.notify\.mention\[1\]: a mention is a team/);
    assert.match(e, /trust\.notify\.remind_after: a duration must be above zero/);
    assert.match(
      errors(withTrust("  notify:\n    webhook: chat\n")).join("\n"),
      /trust\.notify\.webhook: no secret set named "chat"; declare it under `secrets:`/,
    );
    assert.match(
      errors(withTrust("  notify:\n    remind_after: 1h\n")).join("\n"),
      /trust\.notify: notify says nobody to tell: give `mention` \(teams or users\) and\/or `webhook`/,
    );
  });
});
