// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${var} is the .airlock.yml syntax under test
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { ConfigError, loadConfig, parseConfig } from "../../src/config/loader.js";
import { SEED } from "./fixtures.js";

/** The error lines parseConfig reports for `text`, or fails if it accepts it. */
function errors(text: string): string[] {
  try {
    parseConfig(text, ".airlock.yml");
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${String(e)}`);
    assert.equal(e.message, e.issues.map((i) => lineOf(i)).join("\n"));
    return e.message.split("\n");
  }
  assert.fail("the configuration was accepted");
}

function lineOf(i: ConfigError["issues"][number]): string {
  return `${i.file}:${i.line}:${i.col}: ${i.path ? `${i.path}: ` : ""}${i.message}`;
}

describe("parseConfig accepts", () => {
  it("the configuration sketch of the design, with defaults filled in", () => {
    const c = parseConfig(SEED, ".airlock.yml");
    assert.equal(c.version, 1);
    assert.deepEqual(Object.keys(c.jobs), ["build-lint-unit", "security-audit", "functional"]);
    const f = c.jobs.functional!;
    assert.deepEqual(f.matrix, {
      provider: ["aws", "digitalocean", "scaleway"],
      kind: ["infra", "self-hosted", "managed-services"],
    });
    assert.equal(f.timeout, "120m");
    assert.equal(c.jobs["security-audit"]!.network, false, "network is off by default");
    assert.equal(c.jobs["security-audit"]!.timeout, "30m");
    assert.deepEqual(c.selection.aliases, { do: "digitalocean", scw: "scaleway" });
    assert.equal(c.secrets["functional-tests"]!.backend, "embedded");
  });

  it("numbers and booleans in matrix and env, read as strings", () => {
    const c = parseConfig(
      "version: 1\njobs:\n  t:\n    matrix: {node: [18, 20], debug: [true]}\n    env: {PORT: 8080}\n    run: x\n",
      "f.yml",
    );
    assert.deepEqual(c.jobs.t!.matrix, { node: ["18", "20"], debug: ["true"] });
    assert.deepEqual(c.jobs.t!.env, { PORT: "8080" });
  });

  it("a secret set with only a `vault:` block as a vault set", () => {
    const c = parseConfig(
      "version: 1\nsecrets:\n  ft:\n    vault: { path: secret/data/ft }\njobs:\n  t: { run: x, secrets: [ft] }\n",
      "f.yml",
    );
    assert.equal(c.secrets.ft!.backend, "vault");
  });
});

describe("parseConfig reports each mistake at its line and column", () => {
  it("1. YAML syntax errors", () => {
    assert.deepEqual(errors("version: 1\njobs:\n  a:\n\trun: x\n"), [
      ".airlock.yml:4:1: YAML: Tabs are not allowed as indentation",
    ]);
    assert.deepEqual(errors('version: 1\njobs:\n  a:\n    run: "unclosed\n'), [
      '.airlock.yml:5:1: YAML: Missing closing "quote',
    ]);
  });

  it("2. a key written twice", () => {
    assert.deepEqual(errors("version: 1\njobs:\n  a:\n    run: x\n  a:\n    run: y\n"), [
      ".airlock.yml:5:3: YAML: Map keys must be unique",
    ]);
  });

  it("3. no version", () => {
    assert.deepEqual(errors("jobs:\n  a: { run: x }\n"), [
      ".airlock.yml:1:1: version: missing: add `version: 1` at the top of the file",
    ]);
  });

  it("4. an unsupported version", () => {
    assert.deepEqual(errors("version: 2\njobs:\n  a: { run: x }\n"), [
      ".airlock.yml:1:10: version: unsupported version 2: this Airlock reads `version: 1`",
    ]);
  });

  it("5. wrong types, with a hint when a list was meant", () => {
    assert.deepEqual(
      errors(
        "version: 1\njobs:\n  a:\n    run: x\n    needs: b\n    network: yes\n  b: { run: y }\n",
      ),
      [
        '.airlock.yml:5:12: jobs.a.needs: expected a list, got the string "b" (write a list: [b])',
        '.airlock.yml:6:14: jobs.a.network: expected true, false or { allow: [hosts] }, e.g. { allow: [registry.npmjs.org, "*.amazonaws.com:443"] }; got "yes"',
      ],
    );
  });

  it("6. unknown fields, with did-you-mean, at every level", () => {
    assert.deepEqual(
      errors(
        "version: 1\nselecton: {}\njobs:\n  a:\n    run: x\n    timout: 5m\n  b:\n    run: y\n    nedds: [a]\n",
      ),
      [
        '.airlock.yml:2:1: selecton: unknown field "selecton" (did you mean "selection"?)',
        '.airlock.yml:6:5: jobs.a.timout: unknown field "timout" (did you mean "timeout"?)',
        '.airlock.yml:9:5: jobs.b.nedds: unknown field "nedds" (did you mean "needs"?)',
      ],
    );
  });

  it("6b. an unknown field far from any known one lists the known fields", () => {
    const [line] = errors("version: 1\ntrust:\n  everyone: true\njobs:\n  a: { run: x }\n");
    assert.equal(
      line,
      '.airlock.yml:3:3: trust.everyone: unknown field "everyone"; known fields: orgs, teams, permission, bots, users, approval, rules, notify',
    );
  });

  it("7. a job without `run`", () => {
    assert.deepEqual(errors("version: 1\njobs:\n  build:\n    network: true\n"), [
      '.airlock.yml:3:3: jobs.build: missing required field "run" (the job\'s shell script)',
    ]);
  });

  it("8. bad durations", () => {
    assert.deepEqual(
      errors(
        "version: 1\njobs:\n  a: { run: x, timeout: 5 minutes }\n  b: { run: x, timeout: 0s }\n  c: { run: x, timeout: true }\n",
      ),
      [
        '.airlock.yml:3:25: jobs.a.timeout: a duration looks like "90s", "30m", "2h", "1h30m" or a number of seconds',
        ".airlock.yml:4:25: jobs.b.timeout: a duration must be above zero",
        '.airlock.yml:5:25: jobs.c.timeout: a duration looks like "90s", "30m", "2h", "1h30m" or a number of seconds',
      ],
    );
    assert.deepEqual(
      errors(
        "version: 1\njobs:\n  a: { run: x, timeout: 1000h }\n  b: { run: x, timeout: 86400 }\n",
      ),
      [".airlock.yml:3:25: jobs.a.timeout: a job's timeout is at most 24h"],
    );
  });

  it("9. no jobs, and an empty file", () => {
    assert.deepEqual(errors("version: 1\njobs: {}\n"), [
      ".airlock.yml:2:7: jobs: no jobs: add at least one job under `jobs:`",
    ]);
    assert.deepEqual(errors("version: 1\n"), [
      '.airlock.yml:1:1: missing required field "jobs" (a map of job names to jobs)',
    ]);
    assert.deepEqual(errors("# nothing yet\n"), [
      ".airlock.yml:1:1: the file is empty: start it with `version: 1` and a `jobs:` map",
    ]);
  });

  it("10. needs naming a job that does not exist", () => {
    assert.deepEqual(
      errors(
        "version: 1\njobs:\n  build: { run: make }\n  deploy:\n    needs:\n      - biuld\n    run: ./deploy\n",
      ),
      ['.airlock.yml:6:9: jobs.deploy.needs[0]: no job named "biuld" (did you mean "build"?)'],
    );
  });

  it("11. a cycle in needs, named", () => {
    assert.deepEqual(
      errors(
        "version: 1\njobs:\n  a: { run: x, needs: [b] }\n  b: { run: x, needs: [c] }\n  c: { run: x, needs: [a] }\n",
      ),
      [".airlock.yml:5:24: jobs.c.needs[0]: needs form a cycle: c -> a -> b -> c"],
    );
  });

  it("12. a job that needs itself", () => {
    assert.deepEqual(errors("version: 1\njobs:\n  a: { run: x, needs: [a] }\n"), [
      '.airlock.yml:3:24: jobs.a.needs[0]: job "a" cannot need itself',
    ]);
  });

  it("13. a secret set that is not declared", () => {
    assert.deepEqual(
      errors(
        "version: 1\nsecrets:\n  functional-tests: {}\njobs:\n  f:\n    secrets: [functonal-tests]\n    run: x\n",
      ),
      [
        '.airlock.yml:6:15: jobs.f.secrets[0]: no secret set named "functonal-tests" (did you mean "functional-tests"?); declare it under `secrets:` (declared: functional-tests)',
      ],
    );
  });

  it("14. ${var} in name or tags that is not a matrix variable", () => {
    assert.deepEqual(
      errors(
        'version: 1\njobs:\n  f:\n    matrix: { provider: [aws], kind: [infra] }\n    name: "${provder}-${kind}"\n    tags: ["${region}"]\n    run: x\n  g:\n    tags: ["${provider}"]\n    run: x\n',
      ),
      [
        '.airlock.yml:5:11: jobs.f.name: "${provder}" is not a matrix variable of this job (it has: provider, kind) (did you mean "provider"?)',
        '.airlock.yml:6:12: jobs.f.tags[0]: "${region}" is not a matrix variable of this job (it has: provider, kind)',
        '.airlock.yml:9:12: jobs.g.tags[0]: "${provider}" is not a matrix variable: this job has no `matrix`',
      ],
    );
  });

  it("15. expansions that share a job id", () => {
    assert.deepEqual(
      errors(
        "version: 1\njobs:\n  f:\n    matrix: { p: [aws, do] }\n    name: same\n    run: x\n  g-aws: { run: x }\n  g:\n    matrix: { p: [aws] }\n    run: x\n",
      ),
      [
        '.airlock.yml:5:11: jobs.f.name: every expansion must have its own name, but "f-same" comes up more than once; use matrix variables in `name`, e.g. "${p}"',
        '.airlock.yml:8:3: jobs.g: makes the job id "g-aws", which job "g-aws" also makes; job ids must be unique',
      ],
    );
  });

  it("15b. matrix values that only differ in unsafe characters", () => {
    assert.deepEqual(
      errors(
        'version: 1\njobs:\n  i:\n    matrix: { region: ["eu west", "eu/west"] }\n    run: x\n',
      ),
      [
        '.airlock.yml:3:3: jobs.i: "i-eu west" and "i-eu/west" both become the job id "i-eu-west" (characters other than letters, digits, "_", "." and "-" turn into "-"); make the matrix values differ in those characters',
      ],
    );
  });

  it("16. a job name that is not a safe identifier", () => {
    assert.deepEqual(errors("version: 1\njobs:\n  ../evil: { run: x }\n"), [
      '.airlock.yml:3:3: jobs["../evil"]: a job name must start with a letter or digit and use only letters, digits, "_", "." and "-"',
    ]);
  });

  it("17. a value outside an enumeration, with did-you-mean", () => {
    assert.deepEqual(
      errors("version: 1\nsecrets:\n  s: { backend: vualt }\njobs:\n  a: { run: x }\n"),
      [
        '.airlock.yml:3:17: secrets.s.backend: expected one of "embedded", "env", "vault"; got the string "vualt" (did you mean "vault"?)',
      ],
    );
  });

  it("18. a vault backend without its `vault:` block, and the reverse", () => {
    assert.deepEqual(
      errors(
        "version: 1\nsecrets:\n  s: { backend: vault }\n  t:\n    backend: env\n    vault: { path: secret/data/t }\njobs:\n  a: { run: x }\n",
      ),
      [
        ".airlock.yml:3:17: secrets.s.backend: the vault backend needs a `vault:` block with the secret's `path`",
        '.airlock.yml:6:5: secrets.t.vault: `vault:` is only read by the vault backend, and this set uses "env"; remove one of them',
      ],
    );
  });

  it("18b. an env backend with no keys to pass on", () => {
    assert.deepEqual(
      errors("version: 1\nsecrets:\n  ci:\n    backend: env\njobs:\n  a: { run: x }\n"),
      [
        ".airlock.yml:4:14: secrets.ci.backend: the env backend needs `keys:`, the variables of Airlock's environment the set passes on",
      ],
    );
  });

  it("18c. a set passing Airlock's own variables to jobs", () => {
    assert.deepEqual(
      errors(
        "version: 1\nsecrets:\n  own:\n    backend: env\n    keys: [CLOUD_TOKEN, VAULT_TOKEN]\njobs:\n  a: { run: x }\n",
      ),
      [
        ".airlock.yml:5:25: secrets.own.keys[1]: VAULT_TOKEN is one of Airlock's own variables (AIRLOCK_*, VAULT_*), which are never passed to a job; rename it",
      ],
    );
  });

  it("19. `name` on a job without a matrix; a matrix variable also set in env", () => {
    assert.deepEqual(
      errors(
        "version: 1\njobs:\n  a:\n    name: pretty\n    run: x\n  b:\n    matrix: { P: [1] }\n    env: { P: 2 }\n    run: x\n",
      ),
      [
        ".airlock.yml:4:11: jobs.a.name: `name` names the expansions of a matrix, and this job has no `matrix` (rename the job's key instead)",
        '.airlock.yml:8:12: jobs.b.env.P: "P" is also a matrix variable of this job, which sets it; rename one of them',
      ],
    );
  });

  it("20. tags and aliases that would make labels ambiguous", () => {
    assert.deepEqual(
      errors(
        'version: 1\nselection:\n  label_prefix: ""\n  aliases: { all: aws }\njobs:\n  a: { run: x, tags: [ALL] }\n',
      ),
      [
        '.airlock.yml:3:17: selection.label_prefix: must not be empty: every label would select tests (the default is "test-")',
        '.airlock.yml:4:14: selection.aliases.all: "all" cannot be an alias: labels use it to mean every tag',
        '.airlock.yml:6:23: jobs.a.tags[0]: "all" cannot be a tag: labels use it to mean every tag (test-all)',
      ],
    );
  });

  it("21. a matrix too large to be meant", () => {
    const values = `[${Array.from({ length: 20 }, (_, i) => i).join(", ")}]`;
    assert.deepEqual(
      errors(`version: 1\njobs:\n  m:\n    matrix: { a: ${values}, b: ${values} }\n    run: x\n`),
      [".airlock.yml:4:13: jobs.m.matrix: the matrix expands to 400 jobs; the limit is 256"],
    );
  });

  it("22. YAML aliases that would blow up in memory", () => {
    const bomb = [
      "version: 1",
      "a: &a [x, x, x, x, x, x, x, x, x, x]",
      "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]",
      "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]",
      "d: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]",
      "jobs: { a: { run: x } }",
    ].join("\n");
    const [line] = errors(bomb);
    assert.match(line!, /^\.airlock\.yml:1:1: YAML: Excessive alias count/);
  });

  it("23. credentials naming an undeclared secret set", () => {
    assert.deepEqual(
      errors(
        "version: 1\nsuite:\n  url: https://example.com/s.git\n  credentials: suite-tokn\nsecrets:\n  suite-token: {}\njobs:\n  a: { run: x }\n",
      ),
      [
        '.airlock.yml:4:16: suite.credentials: no secret set named "suite-tokn" (did you mean "suite-token"?); declare it under `secrets:`',
      ],
    );
  });

  it("24. an empty entry, and a list where a mapping belongs", () => {
    assert.deepEqual(errors("version: 1\njobs:\n  a:\n  run: x\n"), [
      ".airlock.yml:3:3: jobs.a: expected a mapping, got nothing (is what belongs to it indented below it?)",
      '.airlock.yml:4:8: jobs.run: expected a mapping, got the string "x"',
    ]);
    assert.deepEqual(errors("version: 1\njobs:\n  - build\n"), [
      ".airlock.yml:3:3: jobs: expected a mapping, got a list",
    ]);
  });

  it("25. report paths that leave the workspace", () => {
    assert.deepEqual(
      errors(
        "version: 1\njobs:\n  a:\n    run: x\n    reports:\n      - ../x.xml\n      - /etc/passwd\n      - out/../../y.xml\n      - reports/*.xml\n",
      ),
      [
        '.airlock.yml:6:9: jobs.a.reports[0]: report paths must stay inside the workspace: "../x.xml" climbs out with ".."; write it relative to the job\'s directory, e.g. reports/*.xml',
        '.airlock.yml:7:9: jobs.a.reports[1]: report paths must stay inside the workspace: "/etc/passwd" is absolute; write it relative to the job\'s directory, e.g. reports/*.xml',
        '.airlock.yml:8:9: jobs.a.reports[2]: report paths must stay inside the workspace: "out/../../y.xml" climbs out with ".."; write it relative to the job\'s directory, e.g. reports/*.xml',
      ],
    );
  });

  it("reports every problem of a file at once, in file order", () => {
    const lines = errors(
      "version: 1\njobs:\n  b: { run: x, needs: [nope] }\n  a: { run: x, secrets: [missing] }\n",
    );
    assert.equal(lines.length, 2);
    assert.match(lines[0]!, /^\.airlock\.yml:3:/);
    assert.match(lines[1]!, /^\.airlock\.yml:4:/);
  });

  it("keeps structured issues on the error", () => {
    try {
      parseConfig(
        "version: 1\njobs:\n  d: { run: x, needs: [biuld] }\n  build: { run: y }\n",
        "ci/.airlock.yml",
      );
      assert.fail("accepted");
    } catch (e) {
      assert.ok(e instanceof ConfigError);
      assert.deepEqual(e.issues, [
        {
          file: "ci/.airlock.yml",
          line: 3,
          col: 24,
          path: "jobs.d.needs[0]",
          message: 'no job named "biuld" (did you mean "build"?)',
        },
      ]);
    }
  });
});

describe("loadConfig", () => {
  const dir = mkdtempSync(join(tmpdir(), "airlock-config-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("reads a file", () => {
    const file = join(dir, "ok.yml");
    writeFileSync(file, SEED);
    assert.equal(Object.keys(loadConfig(file).jobs).length, 3);
  });

  it("names a missing file and says how to create it", () => {
    const file = join(dir, "absent", ".airlock.yml");
    assert.throws(
      () => loadConfig(file),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.message.startsWith(`${file}: not found`) &&
        e.message.includes("`version: 1`") &&
        e.message.includes("docs/configuration.md"),
    );
  });

  it("refuses a directory", () => {
    const sub = join(dir, "adir");
    mkdirSync(sub);
    assert.throws(() => loadConfig(sub), /is a directory/);
  });

  it("reports errors under the name it was given", () => {
    const file = join(dir, "bad.yml");
    writeFileSync(file, "version: 1\njobs:\n  a: { rn: x }\n");
    assert.throws(
      () => loadConfig(file),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        assert.equal(e.issues[0]!.file, file);
        return true;
      },
    );
  });
});
