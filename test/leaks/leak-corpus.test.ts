// The leak corpus, end to end: every case is a real restricted job run by `airlock run` in a
// bubblewrap sandbox, holding real secrets from the embedded store. For each, the stored log, the
// terminal output (--output), the --json summary and the stored JUnit-derived results are
// searched for every form of every secret (see forms.ts).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import YAML from "yaml";
import { type CliResult, show } from "../support/cli.js";
import { PATIENCE_MS } from "../support/patience.js";
import { type JobRow, Project } from "../support/project.js";
import {
  CORPUS_FILES,
  type CorpusSecrets,
  corpusSecrets,
  LEAK_CASES,
  unregisteredTokens,
} from "./corpus.js";
import { findLeaks, type Leak, longestPiece, type Secret } from "./forms.js";

const secrets: CorpusSecrets = corpusSecrets();
const SECRET_LIST: Secret[] = Object.entries(secrets).map(([name, value]) => ({ name, value }));
const tokens = unregisteredTokens();
/** Guesses a public job prints: equal to real secrets, but the job holds none. */
const GUESSES = [secrets.API_TOKEN, secrets.DB_PASSWORD];

function pipeline(): string {
  const jobs: Record<string, unknown> = {};
  for (const c of LEAK_CASES) {
    jobs[c.name] = {
      secrets: ["leaky"],
      timeout: "60s",
      run: `echo "== begin ${c.name}"\n${c.run}\necho "== end ${c.name}"\n`,
      ...(c.reports ? { reports: c.reports } : {}),
    };
  }
  jobs["public-tokens"] = {
    run: `cat <<'EOF'\n${tokens.map((t) => `${t.name}: ${t.text}`).join("\n")}\nEOF\necho "== end public-tokens"\n`,
  };
  jobs["public-guess"] = {
    run: `cat <<'EOF'\n${GUESSES.map((g) => `guess: ${g}`).join("\n")}\nEOF\n`,
  };
  return YAML.stringify({
    version: 1,
    secrets: { leaky: { backend: "embedded" } },
    jobs,
  });
}

let project: Project;
let result: CliResult;
let runId: string;
let logs: Record<string, string>;
let rows: Map<string, JobRow>;
/** Terminal lines of each job (the --output view), by job id. */
const terminal = new Map<string, string>();

const PUBLIC = new Set(["public-tokens", "public-guess"]);

function assertNoLeaks(leaks: Leak[]): void {
  assert.deepEqual(
    leaks,
    [],
    `secret values found:\n${leaks.map((l) => `  ${l.secret} as ${l.kind} in ${l.where}: ${l.context}`).join("\n")}`,
  );
}

describe("leak corpus: accidental leaks by real jobs through airlock run", () => {
  before(async () => {
    project = new Project({ files: { ".airlock.yml": pipeline(), ...CORPUS_FILES } });
    await project.setSecrets("leaky", [
      ...SECRET_LIST.map((s) => ({ key: s.name, value: s.value, file: s.name === "KUBE_TOKEN" })),
    ]);
    result = await project.cli(["run", "--json", "--output", "--concurrency", "2"], {
      timeoutMs: PATIENCE_MS,
    });
    const json = JSON.parse(result.stdout) as { run: string };
    runId = json.run;
    logs = await project.logs(runId);
    rows = new Map(project.jobs(runId).map((r) => [r.job_id, r]));
    for (const line of result.stderr.split("\n")) {
      const m = /^(\S+) \| /.exec(line);
      if (m) terminal.set(m[1]!, `${terminal.get(m[1]!) ?? ""}${line}\n`);
    }
  });
  after(() => project?.cleanup());

  test("the corpus is large enough and every job ran", () => {
    assert.ok(LEAK_CASES.length >= 30, `${LEAK_CASES.length} cases`);
    // exit-error fails on purpose, so the run as a whole fails.
    assert.equal(result.code, 1, show(result));
    for (const c of LEAK_CASES) assert.ok(rows.has(c.name), `job ${c.name} recorded`);
  });

  for (const c of LEAK_CASES) {
    test(`${c.name}: masked in the log, the terminal and the test results`, () => {
      const row = rows.get(c.name);
      assert.ok(row, `job ${c.name} recorded`);
      const log = logs[c.name] ?? "";
      assert.equal(row.state, c.state ?? "passed", `${c.name}: ${row.error}\n${log}`);
      assert.match(log, new RegExp(`== begin ${c.name}`));
      if (!c.state) assert.match(log, new RegExp(`== end ${c.name}`));
      const surfaces: [string, string][] = [
        ["stored log", log],
        ["terminal output", terminal.get(c.name) ?? ""],
        ["jobs.tests", row.tests],
        ["jobs.error", row.error ?? ""],
        ["jobs.reason", row.reason],
        ["jobs.grants", row.grants],
      ];
      assertNoLeaks(surfaces.flatMap(([where, text]) => findLeaks(text, where, SECRET_LIST)));
      // Nor in pieces: a value written in parts must not show up in parts either.
      for (const s of SECRET_LIST) {
        if (s.value.includes("\n")) continue;
        for (const [where, text] of surfaces) {
          const piece = longestPiece(text, s.value);
          assert.ok(
            piece.length < Math.min(12, s.value.length / 2),
            `${s.name}: ${piece.length} of its ${s.value.length} characters in the ${where}: ${JSON.stringify(piece)}`,
          );
        }
      }
      // And the secret really was printed (and masked): the marker names what it hid.
      const evidence =
        c.maskedIn === "tests" ? row.tests : c.maskedIn === "error" ? (row.error ?? "") : log;
      const marker = new RegExp(`\\[redacted:(?:${c.masked.source})\\]`);
      assert.match(evidence, marker, `${c.name}: no marker in\n${evidence}`);
    });
  }

  test("the --json summary and Airlock's own lines carry no value", () => {
    const own = result.stderr
      .split("\n")
      .filter((l) => !/^\S+ \| /.test(l))
      .join("\n");
    assertNoLeaks([
      ...findLeaks(result.stdout, "--json summary", SECRET_LIST),
      ...findLeaks(own, "airlock's stderr", SECRET_LIST),
    ]);
    const json = JSON.parse(result.stdout) as {
      jobs: { id: string; result: string; tests: { passed: number; failed: number } }[];
    };
    const junit = json.jobs.find((j) => j.id === "junit-report");
    assert.deepEqual(junit?.tests, { passed: 1, failed: 1, skipped: 1 });
  });

  test("known token formats are masked in a public job's output, which holds no secret", () => {
    const log = logs["public-tokens"] ?? "";
    assert.equal(rows.get("public-tokens")?.state, "passed");
    assert.match(log, /== end public-tokens/);
    assert.equal(rows.get("public-tokens")?.grants, "{}");
    for (const t of tokens) {
      for (const [where, text] of [
        ["stored log", log],
        ["terminal output", terminal.get("public-tokens") ?? ""],
      ]) {
        // A private key block is checked line by line: its header and footer are not secret.
        const pieces =
          t.name === "private-key"
            ? t.text.split("\n").filter((l) => !l.startsWith("-----"))
            : [t.text];
        for (const p of pieces) {
          assert.ok(!text!.includes(p), `${t.name} shown in the ${where}: ${text}`);
        }
      }
      assert.ok(
        log.includes(`${t.name}: [redacted:${t.name}]`),
        `${t.name} not masked as such:\n${log}`,
      );
    }
  });

  test("no oracle: a public job's guesses of registered values are not masked", () => {
    // The public job already knows its own text; masking it would tell it the guess was right.
    const log = logs["public-guess"] ?? "";
    assert.equal(rows.get("public-guess")?.state, "passed");
    for (const g of GUESSES) {
      assert.ok(log.includes(`guess: ${g}\n`), `guess changed in the log:\n${log}`);
      assert.ok(
        (terminal.get("public-guess") ?? "").includes(`public-guess | guess: ${g}\n`),
        "guess changed on the terminal",
      );
    }
    assert.ok(!log.includes("[redacted"), log);
  });

  test("no other job left a log", () => {
    const expected = new Set([...LEAK_CASES.map((c) => c.name), ...PUBLIC]);
    assert.deepEqual(
      Object.keys(logs).filter((j) => !expected.has(j)),
      [],
    );
  });
});
