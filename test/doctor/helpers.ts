// Running `airlock doctor` on a throwaway project and reading its findings.
import assert from "node:assert/strict";
import { type CliResult, show } from "../support/cli.js";
import type { Project } from "../support/project.js";

export const PIPELINE = `version: 1
secrets:
  cloud:
    backend: embedded
jobs:
  lint:
    run: echo lint
  functional:
    needs: [lint]
    secrets: [cloud]
    run: echo functional
`;

export const PUBLIC_ONLY = `version: 1
jobs:
  lint:
    run: echo lint
`;

export interface Finding {
  status: "ok" | "warn" | "fail";
  subject: string;
  message: string;
}

const STATUS = { ok: "ok", warn: "warn", FAIL: "fail" } as const;

/** The findings of doctor's text output (one line each, before the summary). */
export function findings(stdout: string): Finding[] {
  return stdout
    .split("\n")
    .map((l) => /^(ok|warn|FAIL) {2,4}([^:]+): (.*)$/.exec(l))
    .filter((m) => m !== null)
    .map((m) => ({ status: STATUS[m[1] as keyof typeof STATUS], subject: m[2]!, message: m[3]! }));
}

/** A warning that the machine is short of disk space: it depends on the machine, not the test. */
export const lowSpace = (f: Finding): boolean =>
  f.status === "warn" &&
  (f.subject === "disk" || f.subject === "workspaces") &&
  /free/.test(f.message);

/** The one finding of `subject` with `status` whose message matches. */
export function finding(r: CliResult, status: Finding["status"], subject: string, re: RegExp) {
  const f = findings(r.stdout).find(
    (x) => x.status === status && x.subject === subject && re.test(x.message),
  );
  assert.ok(f, `expected ${status} ${subject}: ${re}\n${show(r)}`);
  return f;
}

/** Nothing secret in any output: neither a value nor key material, in any common spelling. */
export function assertNoSecrets(r: CliResult, secrets: (string | Buffer)[]): void {
  const all = `${r.stdout}\n${r.stderr}`;
  for (const s of secrets) {
    const forms =
      typeof s === "string"
        ? [s]
        : [s.toString("hex"), s.toString("base64"), s.toString("base64url")];
    for (const f of forms)
      assert.ok(!all.includes(f), `a secret appears in the output:\n${show(r)}`);
  }
  assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
}

export const doctor = (p: Project, args: string[] = [], env?: NodeJS.ProcessEnv) =>
  p.cli(["doctor", ...args], env ? { env } : {});
