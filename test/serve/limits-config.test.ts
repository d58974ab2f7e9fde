// The serve config's `limits:` and `capacity:`: the documented defaults, each kind's defaults and
// the maximums a job's .airlock.yml cannot exceed, and mistakes named with the fix.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { loadServeConfig, ServeConfigError } from "../../src/gateway/serve-config.js";
import { DEFAULT_CAPACITY } from "../../src/gateway/serve-limits.js";
import { DEFAULT_LIMITS, DEFAULT_MAX, resolveLimits } from "../../src/pipeline/limits.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "airlock-serve-limits-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

function load(text: string) {
  const file = path.join(dir, "serve.yml");
  writeFileSync(file, text);
  return loadServeConfig({ file, env: {}, projectDir: dir });
}

function errorOf(text: string): string {
  try {
    load(text);
  } catch (e) {
    assert.ok(e instanceof ServeConfigError, String(e));
    return e.message;
  }
  assert.fail("expected a ServeConfigError");
}

test("without settings: the documented defaults, maximums and capacity", () => {
  const c = load("listen: 127.0.0.1:8080\n");
  assert.deepEqual(c.limits.policy.public, DEFAULT_LIMITS.public);
  assert.deepEqual(c.limits.policy.restricted, DEFAULT_LIMITS.restricted);
  assert.deepEqual(c.limits.policy.max, DEFAULT_MAX);
  assert.equal(c.limits.allowUnlimitedPublicJobs, false);
  assert.deepEqual(c.limits.capacity, DEFAULT_CAPACITY);
  assert.deepEqual(DEFAULT_CAPACITY, {
    jobs: 4,
    runs: 4,
    jobsPerRun: 2,
    publicJobsPerPr: 2,
    publicJobsPerAuthor: 2,
    githubWritesPerInstallation: 4,
  });
});

test("a server's defaults and maximums; a job's ask above the maximum gets the maximum", () => {
  const c = load(`limits:
  public: { memory: 1GiB, processes: 256, log: 10MiB }
  max: { memory: 3GiB, cpus: 1.5 }
capacity: { jobs: 6, public_jobs_per_author: 1 }
`);
  const { policy } = c.limits;
  assert.equal(policy.public.memoryBytes, GiB);
  assert.equal(policy.public.processes, 256);
  assert.equal(policy.public.logBytes, 10 * MiB);
  assert.equal(policy.public.cpus, 1, "unset: the built-in default");
  // The built-in restricted default (2 CPUs) is above this server's maximum: it is the maximum.
  assert.equal(policy.restricted.cpus, 1.5);
  assert.equal(policy.max.memoryBytes, 3 * GiB);
  assert.equal(policy.max.processes, DEFAULT_MAX.processes, "unset: the built-in maximum");
  assert.deepEqual(c.limits.capacity, {
    ...DEFAULT_CAPACITY,
    jobs: 6,
    runs: 6,
    publicJobsPerAuthor: 1,
  });

  // What a pull request writes in .airlock.yml cannot exceed it.
  const asked = resolveLimits(
    { secrets: [], limits: { memoryBytes: 64 * GiB, processes: 100 } },
    policy,
  );
  assert.equal(asked.limits.memoryBytes, 3 * GiB);
  assert.equal(asked.limits.processes, 100);
  assert.deepEqual(asked.notes, [
    "limits.memory 64 GiB is above this server's maximum: the job gets 3 GiB",
  ]);
});

test("mistakes are named with the fix", () => {
  assert.match(
    errorOf("limits:\n  public: { memory: 8GiB }\n  max: { memory: 4GiB }\n"),
    /limits\.public\.memory \(8 GiB\) is above the maximum \(4 GiB\): lower it, or raise limits\.max\.memory/,
  );
  assert.match(
    errorOf("limits:\n  public: { memory: lots }\n"),
    /limits\.public\.memory: a size looks like/,
  );
  assert.match(errorOf("limits:\n  public: { swap: 1GiB }\n"), /limits\.public/);
  assert.match(errorOf("capacity: { jobs: 0 }\n"), /capacity\.jobs must be at least 1/);
  assert.match(errorOf("capacity: { public_jobs_per_pr: 1.5 }\n"), /must be a whole number/);
  assert.match(
    errorOf("limits:\n  allow_unlimited_public_jobs: yes please\n"),
    /allow_unlimited_public_jobs/,
  );
});
