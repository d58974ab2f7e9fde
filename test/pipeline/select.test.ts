import assert from "node:assert/strict";
import { describe, it } from "node:test";
import check from "fast-check";
import { parseConfig } from "../../src/config/loader.js";
import {
  describeExcluded,
  excludedGroups,
  planPipeline,
  type Selection,
  SelectionError,
} from "../../src/pipeline/select.js";
import { SEED } from "../config/fixtures.js";

const seed = parseConfig(SEED, ".airlock.yml");
const ids = (sel: Selection) => planPipeline(seed, sel).jobs.map((j) => j.id);
const F = (...rest: string[]) => rest.map((r) => `functional-${r}`);
const PUBLIC = ["build-lint-unit", "security-audit"];

function selectionError(sel: Selection): string {
  try {
    planPipeline(seed, sel);
  } catch (e) {
    assert.ok(e instanceof SelectionError, String(e));
    return e.message;
  }
  assert.fail("the selection was accepted");
}

describe("planPipeline with labels", () => {
  it("no labels: every job, each with its reason", () => {
    const plan = planPipeline(seed, {});
    assert.equal(plan.jobs.length, 11);
    assert.ok(Object.values(plan.reasons).every((r) => r === "all jobs"));
    assert.deepEqual(
      Object.keys(plan.reasons),
      plan.jobs.map((j) => j.id),
    );
  });

  it("labels without the prefix are not test labels: every job", () => {
    assert.equal(ids({ labels: ["bug", "needs-review", "testing"] }).length, 11);
  });

  it("test-aws-infra: jobs tagged aws AND infra, plus the public jobs", () => {
    const plan = planPipeline(seed, { labels: ["test-aws-infra"] });
    assert.deepEqual(
      plan.jobs.map((j) => j.id),
      [...PUBLIC, ...F("aws-infra")],
    );
    assert.equal(plan.reasons["functional-aws-infra"], "selected by label test-aws-infra");
    assert.equal(plan.reasons["security-audit"], "public job: runs whatever the labels");
  });

  it("test-aws-all and test-all-infra: one tag", () => {
    assert.deepEqual(ids({ labels: ["test-aws-all"] }), [
      ...PUBLIC,
      ...F("aws-infra", "aws-self-hosted", "aws-managed-services"),
    ]);
    assert.deepEqual(ids({ labels: ["test-all-infra"] }), [
      ...PUBLIC,
      ...F("aws-infra", "digitalocean-infra", "scaleway-infra"),
    ]);
  });

  it("test-all: everything", () => {
    assert.equal(ids({ labels: ["test-all"] }).length, 11);
  });

  it("tags that contain a dash, and aliases for each part", () => {
    assert.deepEqual(ids({ labels: ["test-do-self-hosted"] }), [
      ...PUBLIC,
      ...F("digitalocean-self-hosted"),
    ]);
    assert.deepEqual(ids({ labels: ["test-scw-managed-services"] }), [
      ...PUBLIC,
      ...F("scaleway-managed-services"),
    ]);
  });

  it("several labels: the union, each job naming the labels that chose it", () => {
    const plan = planPipeline(seed, {
      labels: ["test-aws-infra", "test-all-infra", "documentation", "test-scw-all"],
    });
    assert.deepEqual(
      plan.jobs.map((j) => j.id),
      [
        ...PUBLIC,
        ...F("aws-infra", "digitalocean-infra", "scaleway-infra"),
        ...F("scaleway-self-hosted", "scaleway-managed-services"),
      ],
    );
    assert.equal(
      plan.reasons["functional-aws-infra"],
      "selected by labels test-aws-infra, test-all-infra",
    );
    assert.equal(
      plan.reasons["functional-scaleway-infra"],
      "selected by labels test-all-infra, test-scw-all",
    );
  });

  it("labels are matched without regard to case", () => {
    assert.deepEqual(ids({ labels: ["Test-AWS-Infra"] }), [...PUBLIC, ...F("aws-infra")]);
  });

  it("a label naming an unknown tag is an error naming it, with did-you-mean", () => {
    assert.equal(
      selectionError({ labels: ["test-awz-infra"] }),
      'label "test-awz-infra": "awz" is not a tag of any job (did you mean "aws"?). Tags: aws, digitalocean, infra, managed-services, scaleway, self-hosted, or "all"',
    );
  });

  it("a label whose tags no job has together is an error, never an empty run", () => {
    const seed2 = parseConfig(
      // A public job has the tag: labels choose among restricted jobs only.
      SEED.replace("  security-audit:\n", "  security-audit:\n    tags: [gpu]\n"),
      "t.yml",
    );
    assert.throws(
      () => planPipeline(seed2, { labels: ["test-gpu"] }),
      (e: unknown) =>
        e instanceof SelectionError &&
        e.message === 'label "test-gpu" selects no job: no restricted job has the tag gpu',
    );
    assert.equal(
      selectionError({ labels: ["test-aws-infra-scaleway"] }),
      'label "test-aws-infra-scaleway" selects no job: no restricted job has all of the tags aws, infra, scaleway',
    );
  });

  it("the bare prefix is an error; every bad label is reported at once", () => {
    assert.equal(
      selectionError({ labels: ["test-", "test-gcp", "test-aws"] }),
      [
        'label "test-" names no tags: write e.g. "test-all" or "test-<tag>"',
        'label "test-gcp": "gcp" is not a tag of any job. Tags: aws, digitalocean, infra, managed-services, scaleway, self-hosted, or "all"',
      ].join("\n"),
    );
  });

  it("quotes a label with control characters, so it cannot forge a line of output", () => {
    const msg = selectionError({ labels: ["test-x\nairlock: all checks passed"] });
    assert.equal(msg.split("\n").length, 1);
    assert.match(msg, /^label "test-x\\nairlock: all checks passed": /);
  });

  it("honours a custom prefix", () => {
    const c = parseConfig(SEED.replace("label_prefix: test-", 'label_prefix: "ci:"'), "t.yml");
    assert.deepEqual(
      planPipeline(c, { labels: ["ci:aws-infra", "test-all"] }).jobs.map((j) => j.id),
      [...PUBLIC, ...F("aws-infra")],
    );
  });
});

describe("planPipeline with --job", () => {
  it("a job pulls in what it needs, transitively, with the reason", () => {
    const c = parseConfig(
      "version: 1\njobs:\n  a: { run: x }\n  b: { run: x, needs: [a] }\n  c: { run: x, needs: [b] }\n  d: { run: x }\n",
      "t.yml",
    );
    const plan = planPipeline(c, { jobs: ["c"] });
    assert.deepEqual(plan.reasons, {
      a: "needed by b",
      b: "needed by c",
      c: "selected by --job c",
    });
  });

  it("a matrix job's key selects all its expansions; an id selects one", () => {
    assert.deepEqual(ids({ jobs: ["functional"] }), [
      "build-lint-unit",
      ...F(
        "aws-infra",
        "aws-self-hosted",
        "aws-managed-services",
        "digitalocean-infra",
        "digitalocean-self-hosted",
        "digitalocean-managed-services",
        "scaleway-infra",
        "scaleway-self-hosted",
        "scaleway-managed-services",
      ),
    ]);
    const plan = planPipeline(seed, { jobs: ["functional-aws-infra"] });
    assert.deepEqual(plan.reasons, {
      "build-lint-unit": "needed by functional-aws-infra",
      "functional-aws-infra": "selected by --job functional-aws-infra",
    });
  });

  it("an unknown job name is an error with did-you-mean", () => {
    assert.equal(
      selectionError({ jobs: ["security-adit", "nothing-like-it"] }),
      'no job named "security-adit" (did you mean "security-audit"?)\nno job named "nothing-like-it"',
    );
  });

  it("labels narrow the restricted jobs among those named", () => {
    assert.deepEqual(ids({ jobs: ["functional", "security-audit"], labels: ["test-aws-infra"] }), [
      ...PUBLIC,
      ...F("aws-infra"),
    ]);
    assert.equal(
      selectionError({ jobs: ["functional-aws-infra"], labels: ["test-scw-all"] }),
      'label "test-scw-all" selects no job: no restricted job among those named with --job has the tag scaleway',
    );
  });
});

describe("excludedGroups", () => {
  it("is empty for a complete run", () => {
    assert.deepEqual(excludedGroups(seed, {}), []);
    assert.deepEqual(excludedGroups(seed, { labels: ["test-all", "wontfix"] }), []);
  });

  it("names what a label filter left out, by template", () => {
    const groups = excludedGroups(seed, { labels: ["test-aws-all"] });
    assert.deepEqual(groups, [
      {
        template: "functional",
        excluded: F(
          "digitalocean-infra",
          "digitalocean-self-hosted",
          "digitalocean-managed-services",
          "scaleway-infra",
          "scaleway-self-hosted",
          "scaleway-managed-services",
        ),
        total: 9,
      },
    ]);
    assert.equal(describeExcluded(groups), "functional (6 of 9 jobs)");
  });

  it("accepts a plan, and counts a template left out entirely", () => {
    const plan = planPipeline(seed, { jobs: ["security-audit"] });
    const groups = excludedGroups(seed, plan);
    assert.equal(describeExcluded(groups), "functional (all 9 jobs)");
  });
});

describe("planPipeline properties", () => {
  it("any valid labels: public jobs run, needs are closed, every job has a reason", () => {
    const part = check.constantFrom(
      "aws",
      "do",
      "digitalocean",
      "scw",
      "scaleway",
      "infra",
      "self-hosted",
      "managed-services",
      "all",
    );
    const label = check
      .array(part, { minLength: 1, maxLength: 2 })
      .map((ps) => `test-${ps.join("-")}`);
    check.assert(
      check.property(check.array(label, { maxLength: 4 }), (labels) => {
        let plan: ReturnType<typeof planPipeline>;
        try {
          plan = planPipeline(seed, { labels });
        } catch (e) {
          // Only a pair that names two providers (or two kinds) can select nothing.
          assert.ok(e instanceof SelectionError, String(e));
          return;
        }
        const inPlan = new Set(plan.jobs.map((j) => j.id));
        for (const p of PUBLIC) assert.ok(inPlan.has(p), `${p} always runs`);
        for (const j of plan.jobs) {
          for (const n of j.needs) assert.ok(inPlan.has(n), `${j.id} needs ${n}`);
          assert.ok(plan.reasons[j.id], `${j.id} has a reason`);
        }
        const left = excludedGroups(seed, plan).flatMap((g) => g.excluded);
        const restricted = plan.jobs.filter((j) => j.secrets.length > 0).length;
        assert.equal(left.length + restricted, 9);
      }),
      { numRuns: 200 },
    );
  });
});
