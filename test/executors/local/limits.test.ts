// Resource limits with real bubblewrap and real processes: core dumps are always off (a job's
// memory holds secrets), and the optional per-job limits of `.airlock.yml` hold inside the job.
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { ConfigError, parseConfig } from "../../../src/config/loader.js";
import { LocalExecutor } from "../../../src/executors/local/executor.js";
import { PRLIMIT_HINT } from "../../../src/executors/local/rlimits.js";
import { expandJobs } from "../../../src/pipeline/expand.js";
import type { PlannedJob } from "../../../src/pipeline/types.js";
import { makeRepo, request, tempDir } from "./helpers.js";

const t = tempDir();
let checkout: { kind: "commit"; repoDir: string; sha: string };
const sandboxed = new LocalExecutor();
const unsandboxed = new LocalExecutor({ sandbox: false });

before(() => {
  const { repo, sha } = makeRepo(t.dir, { "README.md": "hello\n" });
  checkout = { kind: "commit", repoDir: repo, sha };
});
after(async () => {
  await sandboxed.close();
  await unsandboxed.close();
  t.cleanup();
});

/** The planned jobs of an `.airlock.yml` text, through the loader and matrix expansion. */
function plan(yaml: string): PlannedJob[] {
  return expandJobs(parseConfig(yaml, ".airlock.yml"));
}

/** One job whose `limits:` block is `limits` (a YAML flow mapping), running `script`. */
function limited(limits: string, script: string): PlannedJob {
  const [j] = plan(
    `version: 1\njobs:\n  j:\n    run: ${JSON.stringify(script)}\n    limits: ${limits}\n`,
  );
  return j!;
}

async function runIn(ex: LocalExecutor, j: PlannedJob): Promise<{ status: string; out: string }> {
  const c = request(checkout, j);
  const r = await ex.run(c.req);
  return { status: r.status, out: c.text() + (r.error ?? "") };
}

/** The output of a job that must pass. */
async function passes(ex: LocalExecutor, limits: string, script: string): Promise<string> {
  const r = await runIn(ex, limited(limits, script));
  assert.equal(r.status, "passed", r.out);
  return r.out;
}

/** Prints the soft and hard limit of `ulimit` option `opt`, then tries to raise it to `to`. */
const showAndRaise = (opt: string, to: string) =>
  `ulimit -S -${opt}; ulimit -H -${opt}; if ulimit -${opt} ${to} 2>/dev/null; then echo raised; else echo refused; fi`;

const CRASH = [
  // Even a job that tries to allow them gets no core file.
  "ulimit -c unlimited 2>/dev/null || true",
  "sh -c 'kill -SEGV $$' || true",
  "sleep 10 & kill -ABRT $!; wait $! || true",
  "find . -name core -o -name 'core.[0-9]*' | sed 's/^/found: /'",
  "echo listed",
].join("\n");

for (const [mode, ex] of [
  ["sandboxed", sandboxed],
  ["--no-sandbox", unsandboxed],
] as const) {
  describe(`core dumps (${mode})`, () => {
    it("are off, hard and soft: the job cannot turn them on", async () => {
      assert.match(await passes(ex, "{}", showAndRaise("c", "unlimited")), /^0\n0\nrefused$/m);
    });

    it("a job that crashes with SIGSEGV or SIGABRT leaves no core file", async () => {
      const out = await passes(ex, "{}", CRASH);
      assert.match(out, /^listed$/m);
      assert.doesNotMatch(out, /^found: /m);
      assert.doesNotMatch(out, /core dumped/);
    });
  });
}

describe("per-job limits", () => {
  it("limits.tmp bounds the private /tmp", async () => {
    const script = "dd if=/dev/zero of=/tmp/big bs=1M count=2 2>&1 || echo dd-failed";
    const small = await passes(sandboxed, "{ tmp: 1MB }", script);
    assert.match(small, /No space left on device/);
    assert.match(small, /^dd-failed$/m);
    // Without the limit the same write fits.
    assert.doesNotMatch(await passes(sandboxed, "{}", script), /dd-failed/);
  });

  for (const [mode, ex] of [
    ["sandboxed", sandboxed],
    ["--no-sandbox", unsandboxed],
  ] as const) {
    it(`open_files sets RLIMIT_NOFILE, hard and soft (${mode})`, async () => {
      const out = await passes(ex, "{ open_files: 64 }", showAndRaise("n", "4096"));
      assert.match(out, /^64\n64\nrefused$/m);
    });

    it(`file_size stops a too-large write (${mode})`, async () => {
      const out = await passes(
        ex,
        "{ file_size: 1MB }",
        "(dd if=/dev/zero of=big bs=1M count=2 2>/dev/null) || echo write-failed\nwc -c < big",
      );
      assert.match(out, /^write-failed$/m);
      assert.match(out, /^1000000$/m);
    });
  }

  it("a job without prlimit does not run, and the message says how to install it", async () => {
    for (const sandbox of [true, false]) {
      const ex = new LocalExecutor({ sandbox, prlimitPath: path.join(t.dir, "no-prlimit") });
      try {
        const c = request(checkout, limited("{}", "echo ran"));
        const r = await ex.run(c.req);
        assert.equal(r.status, "error");
        assert.match(r.error ?? "", /prlimit \(util-linux\) is not installed/);
        assert.ok(r.error?.includes(PRLIMIT_HINT));
        assert.doesNotMatch(c.text(), /ran/);
      } finally {
        await ex.close();
      }
    }
  });
});

describe("limits in .airlock.yml", () => {
  it("accepts every unit and passes the values to each matrix expansion", () => {
    const jobs = plan(
      [
        "version: 1",
        "jobs:",
        "  t:",
        "    run: 'true'",
        "    matrix: { A: [x, y] }",
        "    limits: { tmp: 512MB, open_files: 1024, file_size: 2GiB }",
      ].join("\n"),
    );
    assert.equal(jobs.length, 2);
    for (const j of jobs) {
      assert.deepEqual(j.limits, {
        tmpBytes: 512_000_000,
        openFiles: 1024,
        fileSizeBytes: 2 * 1024 ** 3,
      });
    }
    const sizes = ["1B", "1KB", "1MB", "1GB", "1KiB", "1MiB", "1GiB", 4096].map(
      (s) => limited(`{ tmp: ${s} }`, "true").limits?.tmpBytes,
    );
    assert.deepEqual(sizes, [1, 1e3, 1e6, 1e9, 1024, 1024 ** 2, 1024 ** 3, 4096]);
    assert.equal(plan("version: 1\njobs:\n  j: { run: 'true' }\n")[0]!.limits, undefined);
  });

  it("reports a bad size or count at its line and column", () => {
    const text = [
      "version: 1",
      "jobs:",
      "  j:",
      "    run: 'true'",
      "    limits:",
      "      tmp: 12XB",
      "      open_files: 3",
      "      file_size: 0MB",
      "      stack: 8MB",
    ].join("\n");
    assert.throws(
      () => parseConfig(text, ".airlock.yml"),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError, String(e));
        const lines = e.message.split("\n");
        assert.ok(
          lines.some((l) =>
            /^\.airlock\.yml:6:12: jobs\.j\.limits\.tmp: a size looks like "512MB".*KiB, MiB, GiB/.test(
              l,
            ),
          ),
          e.message,
        );
        assert.ok(
          lines.includes(
            ".airlock.yml:7:19: jobs.j.limits.open_files: open_files must be at least 16",
          ),
          e.message,
        );
        assert.ok(
          lines.includes(".airlock.yml:8:18: jobs.j.limits.file_size: a size must be above zero"),
          e.message,
        );
        assert.ok(
          lines.some((l) => /^\.airlock\.yml:9:7: jobs\.j\.limits\.stack: unknown field/.test(l)),
          e.message,
        );
        return true;
      },
    );
  });
});
