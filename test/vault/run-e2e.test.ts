// Vault through `airlock run`, end to end: the real CLI in its own process, a git repository made
// here from examples/vault-token, the bubblewrap sandbox, and the Vault test double on loopback.
// Checked: token mode (the job reads its set, is denied elsewhere, its token dies with it),
// inject mode (values as env, every live version masked), Vault down (a clear job error), and
// that no token or value reaches argv, Airlock's output, the database or any file of the data dir.
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, afterEach, before, describe, it } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import {
  assertNoLeak,
  assertNoViolations,
  deadAddress,
  SECRETS_V1,
  SECRETS_V2,
  type World,
  world,
} from "./helpers.js";

const exec = promisify(execFile);
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const EXAMPLE = path.join(ROOT, "examples/vault-token");
const MAIN = pathToFileURL(path.join(ROOT, "src/cli/main.ts")).href;
const HAS_BWRAP = (() => {
  try {
    return statSync("/usr/bin/bwrap").isFile();
  } catch {
    return false;
  }
})();

/** Printed by the job: each variable's name and a short hash of its value (never the value). */
const ENV_REPORT = `import { createHash } from "node:crypto";
for (const [k, v] of Object.entries(process.env).sort()) {
  console.log("env " + k + " " + createHash("sha256").update(v ?? "").digest("hex").slice(0, 16));
}
`;

const hash = (v: string) => createHash("sha256").update(v).digest("hex").slice(0, 16);

function envReport(log: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const [, k, h] of log.matchAll(/^env (\w+) ([0-9a-f]{16})$/gm)) m.set(k!, h!);
  return m;
}

interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
  /** Every command line seen in /proc while the CLI ran. */
  cmdlines: Set<string>;
  json?: {
    run: string;
    status: string;
    jobs: { id: string; result: string; error: string | null; secrets: Record<string, unknown> }[];
  };
}

let tmp: string;
let entry: string;
let w: World;
let dead: string;

before(async () => {
  tmp = mkdtempSync(path.join(tmpdir(), "airlock-vault-e2e-"));
  entry = path.join(tmp, "airlock.mjs");
  writeFileSync(
    entry,
    `import { main } from ${JSON.stringify(MAIN)};\nprocess.exitCode = await main(process.argv);\n`,
  );
  w = await world();
  dead = await deadAddress();
});
afterEach(() => assertNoViolations(w.vault));
after(async () => {
  await w.vault.close();
  rmSync(tmp, { recursive: true, force: true });
});

/** A git repository with the example's files, `files` added or replaced, committed. */
async function repo(files: Record<string, string>): Promise<string> {
  const dir = mkdtempSync(path.join(tmp, "repo-"));
  cpSync(EXAMPLE, dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  const git = (...args: string[]) =>
    exec(
      "git",
      [
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@example.org",
        "-c",
        "init.defaultBranch=main",
        ...args,
      ],
      {
        cwd: dir,
      },
    );
  await git("init", "-q");
  await git("add", "-A");
  await git("commit", "-q", "-m", "example");
  return dir;
}

function scanCmdlines(into: Set<string>): void {
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const c = readFileSync(`/proc/${pid}/cmdline`).toString("utf8");
      if (c) into.add(c.replaceAll("\0", " "));
    } catch {
      // gone already
    }
  }
}

/** `airlock run …` in its own process, with Airlock's own environment `env`. */
function airlock(args: string[], env: Record<string, string>): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", entry, ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: tmp, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const cmdlines = new Set<string>();
    const poll = setInterval(() => scanCmdlines(cmdlines), 20);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c) => (stdout += c));
    child.stderr.on("data", (c) => (stderr += c));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearInterval(poll);
      clearTimeout(timer);
      const r: CliRun = { code: code ?? -1, stdout, stderr, cmdlines };
      try {
        r.json = JSON.parse(stdout);
      } catch {
        // not a --json run, or it failed before printing
      }
      resolve(r);
    });
  });
}

/** Fails naming the file (not printing it) when a file under `dir` holds one of `secrets`. */
function assertNoFileHolds(dir: string, secrets: string[]): number {
  let files = 0;
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = path.join(d, name);
      if (statSync(p).isDirectory()) {
        walk(p);
        continue;
      }
      files++;
      const bytes = readFileSync(p);
      for (const s of secrets) {
        assert.ok(
          !bytes.includes(s),
          `${path.relative(dir, p)} holds a secret (${s.slice(0, 4)}…)`,
        );
      }
    }
  };
  walk(dir);
  return files;
}

function newHome(): string {
  const home = path.join(tmp, `home-${randomBytes(4).toString("hex")}`);
  mkdirSync(home, { mode: 0o700 });
  return home;
}

/** Airlock's own environment: its Vault token, and credentials a job must never see. */
function airlockEnv(home: string, vaultAddr = w.vault.address): Record<string, string> {
  return {
    AIRLOCK_HOME: home,
    AIRLOCK_MASTER_KEY: randomBytes(32).toString("hex"),
    VAULT_ADDR: vaultAddr,
    VAULT_TOKEN: w.airlockToken,
    AIRLOCK_VAULT_ROLE_ID: "airlock-role-id-stays-home-1",
    AIRLOCK_VAULT_SECRET_ID: "airlock-secret-id-stays-home-2",
  };
}

/** What must never leave Vault and Airlock's environment in clear. */
function neverShown(env: Record<string, string>, extra: string[] = []): string[] {
  return [
    ...w.secrets,
    env.AIRLOCK_MASTER_KEY!,
    env.AIRLOCK_VAULT_ROLE_ID!,
    env.AIRLOCK_VAULT_SECRET_ID!,
    ...extra,
  ];
}

function assertNothingLeaked(r: CliRun, home: string, secrets: string[]): void {
  assertNoLeak(r.stdout, secrets);
  assertNoLeak(r.stderr, secrets);
  // The database (with its WAL) and the logs at least.
  assert.ok(assertNoFileHolds(home, secrets) >= 2);
  for (const c of r.cmdlines) assertNoLeak(c, secrets);
}

/** The job's env must not hold Airlock's own credentials, under any name. */
function assertJobEnvClean(env: Map<string, string>, airlock: Record<string, string>): void {
  for (const name of env.keys()) {
    assert.ok(
      !/^AIRLOCK_VAULT_|^AIRLOCK_MASTER_KEY$|^AIRLOCK_HOME$/.test(name),
      `${name} reached the job`,
    );
  }
  const own = [
    "VAULT_TOKEN",
    "AIRLOCK_MASTER_KEY",
    "AIRLOCK_VAULT_ROLE_ID",
    "AIRLOCK_VAULT_SECRET_ID",
  ];
  const values = new Set(env.values());
  for (const k of own) assert.ok(!values.has(hash(airlock[k]!)), `Airlock's ${k} reached the job`);
}

const TOKEN_JOB = `node functional-test.mjs
node env-report.mjs
echo "token: $VAULT_TOKEN"
# Keep the job alive a little, so that the test sees its processes in /proc.
sleep 0.7
`;

describe("Vault through `airlock run`", {
  skip: HAS_BWRAP ? false : "needs /usr/bin/bwrap",
}, () => {
  it("token mode: the job reads its set, is denied elsewhere, and its token dies with it", async () => {
    const dir = await repo({
      "env-report.mjs": ENV_REPORT,
      "job.sh": TOKEN_JOB,
      ".airlock.yml": readFileSync(path.join(EXAMPLE, ".airlock.yml"), "utf8").replace(
        "run: node functional-test.mjs",
        "run: sh job.sh",
      ),
    });
    const home = newHome();
    const env = airlockEnv(home);
    const r = await airlock(["run", "-C", dir, "--json", "--output"], env);
    assert.equal(r.code, 0, r.stderr);
    const run = r.json!.run;
    assert.equal(r.json!.status, "passed");

    // The double knows the job's token by the metadata Airlock gave it.
    const minted = w.vault.tokensWithMeta({ run, job: "functional" });
    assert.equal(minted.length, 1);
    const token = minted[0]!;
    assert.deepEqual(token.policies, ["functional-tests-read"]);
    assert.equal(token.meta.set, "functional-tests");
    // Recorded by its accessor only.
    assert.deepEqual(r.json!.jobs[0]!.secrets, {
      "functional-tests": {
        VAULT_TOKEN: `accessor:${token.accessor}`,
        AWS_ACCESS_KEY_ID: 2,
        AWS_SECRET_ACCESS_KEY: 2,
        SCALEWAY_SECRET_KEY: 2,
      },
    });
    // Dead once the job ended: the double says so, and Vault answers 403 to it.
    assert.equal(w.vault.tokenValid(token.id), false);
    const after = await fetch(`${w.vault.address}/v1/secret/data/functional-tests`, {
      headers: { "X-Vault-Token": token.id },
    });
    await after.body?.cancel();
    assert.equal(after.status, 403);
    assert.equal(w.vault.tokenValid(w.airlockToken), true, "Airlock's own token is untouched");

    const log = readFileSync(path.join(home, "logs", run, "functional.log"), "utf8");
    assert.match(log, /loaded 3 secrets from Vault/);
    assert.match(log, /outside the policy: denied \(403\), as it should be/);
    assert.match(log, /^token: \[redacted:VAULT_TOKEN\]$/m);
    assert.ok(!log.includes(token.id));

    const jobEnv = envReport(log);
    assert.equal(jobEnv.get("VAULT_TOKEN"), hash(token.id), "the job holds its own child token");
    assert.equal(jobEnv.get("VAULT_ADDR"), hash(w.vault.address));
    assertJobEnvClean(jobEnv, env);

    // The job was seen running; no token or value was in any process's argv meanwhile.
    assert.ok(
      [...r.cmdlines].some((c) => /bwrap /.test(c)),
      "the sandbox was seen in /proc",
    );
    assert.ok(
      [...r.cmdlines].some((c) => /^sleep 0\.7/.test(c)),
      "the job was seen in /proc",
    );
    assertNothingLeaked(r, home, [...neverShown(env), token.id]);
  });

  it("inject mode: the values arrive as env, and every live version is masked", async () => {
    const dir = await repo({
      "env-report.mjs": ENV_REPORT,
      // An older version the job might meet some other way (a cache, a fixture, a colleague).
      "old-value.txt": `${SECRETS_V1.AWS_SECRET_ACCESS_KEY}\n`,
      ".airlock.yml": `version: 1
secrets:
  functional-tests:
    backend: vault
    vault: { path: secret/data/functional-tests }
jobs:
  functional:
    secrets: [functional-tests]
    timeout: 5m
    run: |
      node env-report.mjs
      echo "key: $AWS_SECRET_ACCESS_KEY"
      echo "old: $(cat old-value.txt)"
      echo "id: $AWS_ACCESS_KEY_ID scw: $SCALEWAY_SECRET_KEY"
      sleep 0.5
`,
    });
    const home = newHome();
    const env = airlockEnv(home);
    const r = await airlock(["run", "-C", dir, "--json", "--output"], env);
    assert.equal(r.code, 0, r.stderr);
    const run = r.json!.run;
    assert.deepEqual(r.json!.jobs[0]!.secrets, {
      "functional-tests": {
        AWS_ACCESS_KEY_ID: 2,
        AWS_SECRET_ACCESS_KEY: 2,
        SCALEWAY_SECRET_KEY: 2,
      },
    });
    assert.equal(w.vault.tokensWithMeta({ run }).length, 0, "inject mode mints no token");

    const log = readFileSync(path.join(home, "logs", run, "functional.log"), "utf8");
    const jobEnv = envReport(log);
    for (const [k, v] of Object.entries(SECRETS_V2)) assert.equal(jobEnv.get(k), hash(v), k);
    assert.equal(jobEnv.has("VAULT_TOKEN"), false);
    assert.equal(jobEnv.has("VAULT_ADDR"), false);
    assertJobEnvClean(jobEnv, env);
    assert.match(log, /^key: \[redacted:AWS_SECRET_ACCESS_KEY\]$/m);
    assert.match(log, /^old: \[redacted:AWS_SECRET_ACCESS_KEY\]$/m);
    assert.match(
      log,
      /^id: \[redacted:AWS_ACCESS_KEY_ID\] scw: \[redacted:SCALEWAY_SECRET_KEY\]$/m,
    );
    assert.ok(
      [...r.cmdlines].some((c) => /^sleep 0\.5/.test(c)),
      "the job was seen in /proc",
    );
    assertNothingLeaked(r, home, neverShown(env));
  });

  it("Vault down: the restricted job errors with a clear message and the run fails, nothing leaked", async () => {
    const dir = await repo({});
    const home = newHome();
    const env = airlockEnv(home, dead);
    const r = await airlock(["run", "-C", dir, "--json"], env);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.json!.status, "error");
    const [job] = r.json!.jobs;
    assert.equal(job!.result, "error");
    assert.match(
      job!.error ?? "",
      /cannot reach Vault at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\): check VAULT_ADDR and that Vault is running/,
    );
    const log = readFileSync(path.join(home, "logs", r.json!.run, "functional.log"), "utf8");
    assert.match(log, /^airlock: .*cannot reach Vault/m);
    assert.doesNotMatch(log, /loaded \d+ secrets/, "the job never ran");
    assertNothingLeaked(r, home, neverShown(env));
  });

  it("an env-backend set cannot hand Airlock's own VAULT_TOKEN or master key to a job", async () => {
    const dir = await repo({
      "env-report.mjs": ENV_REPORT,
      ".airlock.yml": `version: 1
secrets:
  own:
    backend: env
    keys: [VAULT_TOKEN, AIRLOCK_MASTER_KEY]
jobs:
  functional:
    secrets: [own]
    run: node env-report.mjs
`,
    });
    const home = newHome();
    const env = airlockEnv(home);
    const r = await airlock(["run", "-C", dir, "--json"], env);
    if (r.code === 0) {
      const log = readFileSync(path.join(home, "logs", r.json!.run, "functional.log"), "utf8");
      assertJobEnvClean(envReport(log), env);
    }
    assert.notEqual(r.code, 0, "a set naming Airlock's own credentials is refused");
    assert.match(`${r.stderr}${r.json?.jobs[0]?.error ?? ""}`, /VAULT_TOKEN/);
  });
});
