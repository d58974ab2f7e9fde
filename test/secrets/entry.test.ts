// The installed entry point (bin/airlock.js, run through its shebang as a user's shell runs it):
// `secrets import SET --env-file FILE` must reach Airlock, not Node 20, which otherwise takes an
// `--env-file` anywhere on its command line as its own and loads the file into its environment.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const BIN = path.join(ROOT, "bin", "airlock.js");

function airlock(args: string[], cwd: string, env: NodeJS.ProcessEnv) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(BIN, args, { cwd, env, timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

describe("bin/airlock.js", () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;

  before(() => {
    assert.ok(
      existsSync(path.join(ROOT, "dist", "cli", "main.js")),
      "dist/ is missing: run `npm run build` (npm test does) before this test",
    );
    dir = mkdtempSync(path.join(tmpdir(), "airlock-entry-"));
    env = {
      PATH: process.env.PATH,
      HOME: dir,
      AIRLOCK_HOME: path.join(dir, "data"),
      AIRLOCK_MASTER_KEY: Buffer.alloc(32, 7).toString("base64"),
    };
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("imports with --env-file through the shebang, and prints no value", async () => {
    const value = "entry-test-value-9f3c";
    const file = path.join(dir, "creds.env");
    writeFileSync(file, `ENTRY_KEY=${value}\n`);
    const r = await airlock(["secrets", "import", "entry", "--env-file", file], dir, env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /imported 1 keys into entry: ENTRY_KEY/);
    assert.doesNotMatch(r.stdout + r.stderr, new RegExp(value));
  });

  it("a missing --env-file is Airlock's clear error, not Node's", async () => {
    const missing = path.join(dir, "missing.env");
    const r = await airlock(["secrets", "import", "entry", "--env-file", missing], dir, env);
    assert.notEqual(r.code, 0);
    assert.notEqual(r.code, 9, "Node took --env-file as its own option");
    assert.match(r.stderr, /^airlock: cannot read .*missing\.env/m);
  });
});
