// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${var} is the .airlock.yml syntax under test
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { ConfigError, parseConfig } from "../../src/config/loader.js";
import { SAFE_ID } from "../../src/config/matrix.js";
import { expandJobs } from "../../src/pipeline/expand.js";
import { SEED } from "../config/fixtures.js";

const config = (jobs: string) => parseConfig(`version: 1\njobs:\n${jobs}`, "t.yml");

describe("expandJobs", () => {
  it("expands the seed's matrix in declaration order, first variable slowest", () => {
    const jobs = expandJobs(parseConfig(SEED, "t.yml"));
    assert.deepEqual(
      jobs.map((j) => j.id),
      [
        "build-lint-unit",
        "security-audit",
        "functional-aws-infra",
        "functional-aws-self-hosted",
        "functional-aws-managed-services",
        "functional-digitalocean-infra",
        "functional-digitalocean-self-hosted",
        "functional-digitalocean-managed-services",
        "functional-scaleway-infra",
        "functional-scaleway-self-hosted",
        "functional-scaleway-managed-services",
      ],
    );
    const one = jobs.find((j) => j.id === "functional-digitalocean-self-hosted")!;
    assert.equal(one.template, "functional");
    assert.deepEqual(one.matrix, { provider: "digitalocean", kind: "self-hosted" });
    assert.deepEqual(one.tags, ["digitalocean", "self-hosted"]);
    assert.deepEqual(one.needs, ["build-lint-unit"]);
    assert.deepEqual(one.secrets, ["functional-tests"]);
    assert.equal(one.timeoutMs, 120 * 60_000);
    assert.equal(one.network, true);
    assert.deepEqual(one.reports, ["reports/*.xml"]);
  });

  it("exports matrix values as environment variables and never substitutes `run`", () => {
    const jobs = expandJobs(
      config(
        '  t:\n    matrix: { provider: ["$(touch /tmp/pwned)", "a;b"] }\n    env: { MODE: fast }\n    run: ./test.sh "${provider}"\n',
      ),
    );
    assert.equal(jobs.length, 2);
    for (const j of jobs) {
      assert.equal(j.run, './test.sh "${provider}"', "run is kept verbatim");
      assert.equal(j.env.MODE, "fast");
    }
    assert.equal(jobs[0]!.env.provider, "$(touch /tmp/pwned)");
    assert.equal(jobs[1]!.env.provider, "a;b");
    // The id made from such values is still a safe file name.
    assert.deepEqual(
      jobs.map((j) => j.id),
      ["t--touch-tmp-pwned-", "t-a-b"],
    );
  });

  it("a name already starting with the job's key is not prefixed twice", () => {
    const jobs = expandJobs(
      config(
        '  e2e:\n    matrix: { browser: [chromium] }\n    name: "e2e-${browser}"\n    run: x\n',
      ),
    );
    assert.deepEqual(
      jobs.map((j) => j.id),
      ["e2e-chromium"],
    );
  });

  it("needs on a matrix job means every expansion; an expansion id means that one", () => {
    const jobs = expandJobs(
      config(
        "  build:\n    matrix: { os: [linux, mac] }\n    run: x\n  pack: { run: y, needs: [build] }\n  ship: { run: z, needs: [build-mac, pack] }\n",
      ),
    );
    const byId = Object.fromEntries(jobs.map((j) => [j.id, j.needs]));
    assert.deepEqual(byId, {
      "build-linux": [],
      "build-mac": [],
      pack: ["build-linux", "build-mac"],
      ship: ["build-mac", "pack"],
    });
  });

  it("a job without a matrix keeps its key as id and gets defaults", () => {
    const [j] = expandJobs(config("  lint: { run: npm run lint }\n"));
    assert.deepEqual(j, {
      id: "lint",
      template: "lint",
      matrix: {},
      run: "npm run lint",
      needs: [],
      tags: [],
      secrets: [],
      env: {},
      timeoutMs: 30 * 60_000,
      network: false,
      reports: [],
    });
  });

  it("any matrix either expands to unique, safe ids or is refused with a ConfigError", () => {
    const value = fc.string({ minLength: 0, maxLength: 12 });
    fc.assert(
      fc.property(
        fc.array(value, { minLength: 1, maxLength: 4 }),
        fc.array(value, { minLength: 1, maxLength: 3 }),
        fc.option(fc.constantFrom("${a}", "${a}-${b}", "x-${b}", "fixed"), { nil: undefined }),
        (as, bs, name) => {
          const yaml = `version: 1\njobs:\n  m:\n    matrix:\n      a: ${JSON.stringify(as)}\n      b: ${JSON.stringify(bs)}\n${
            name ? `    name: ${JSON.stringify(name)}\n` : ""
          }    run: x\n`;
          let jobs: ReturnType<typeof expandJobs>;
          try {
            jobs = expandJobs(parseConfig(yaml, "t.yml"));
          } catch (e) {
            assert.ok(e instanceof ConfigError, String(e));
            return;
          }
          assert.equal(jobs.length, as.length * bs.length);
          assert.equal(new Set(jobs.map((j) => j.id)).size, jobs.length);
          for (const j of jobs) assert.match(j.id, SAFE_ID);
        },
      ),
      { numRuns: 300 },
    );
  });
});
