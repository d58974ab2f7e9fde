// `airlock doctor` as a maintainer runs it: real git repositories, real bubblewrap, the real
// SQLite store, the CLI as a child process. Every finding is one line that names the problem and
// the fix, and no secret value or key material ever appears.
import assert from "node:assert/strict";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { show, WITHOUT_BWRAP } from "../support/cli.js";
import { Project } from "../support/project.js";
import {
  assertNoSecrets,
  doctor,
  type Finding,
  finding,
  findings,
  lowSpace,
  PIPELINE,
  PUBLIC_ONLY,
} from "./helpers.js";

const VALUE = `tok_${randomBytes(12).toString("hex")}`;
const masterKeyOf = (p: Project) => Buffer.from(p.masterKey!, "hex");

describe("airlock doctor: a healthy project", () => {
  let p: Project;
  before(async () => {
    p = new Project({ files: { ".airlock.yml": PIPELINE } });
    await p.setSecret("cloud", "TOKEN", VALUE);
  });
  after(() => p?.cleanup());

  test("every check is ok, and the command exits 0", async () => {
    const r = await doctor(p);
    assert.equal(r.code, 0, show(r));
    const all = findings(r.stdout);
    // A machine short of disk space may warn about it; nothing else may be other than ok.
    assert.deepEqual(
      all.filter((f) => f.status !== "ok" && !lowSpace(f)),
      [],
      show(r),
    );
    for (const subject of [
      "config",
      "core dumps",
      "sandbox",
      "network",
      "git",
      "data directory",
      "master key",
      "store",
      "disk",
      "workspaces",
      "set cloud",
    ]) {
      assert.ok(
        all.some((f) => f.subject === subject),
        `no ${subject} check\n${show(r)}`,
      );
    }
    finding(r, "ok", "network", /sees only lo/);
    finding(r, "ok", "core dumps", /off for every job \(.*prlimit works\)/);
    finding(r, "ok", "store", /AIRLOCK_MASTER_KEY\) opens the store: 1 stored value decrypts/);
    finding(r, "ok", "set cloud", /1 key in the embedded store: TOKEN v1$/);
    finding(r, "ok", "workspaces", new RegExp(`${p.tmp} \\((on disk|tmpfs)`));
    assert.match(r.stdout, /\nall good( \(\d+ warnings?\))?\n$/);
    assertNoSecrets(r, [VALUE, masterKeyOf(p)]);
  });

  test("--json gives the same findings, machine-readable", async () => {
    const [text, json] = await Promise.all([doctor(p), doctor(p, ["--json"])]);
    assert.equal(json.code, 0, show(json));
    const report = JSON.parse(json.stdout) as {
      ok: boolean;
      failed: number;
      warned: number;
      checks: Finding[];
    };
    assert.equal(report.ok, true);
    assert.equal(report.failed, 0);
    assert.deepEqual(report.checks, findings(text.stdout));
    assertNoSecrets(json, [VALUE, masterKeyOf(p)]);
  });

  test("workspaces inside the data directory: FAIL, as the executor would refuse", async () => {
    const r = await doctor(p, [], p.env({ AIRLOCK_WORKSPACES: path.join(p.dataDir, "ws") }));
    assert.equal(r.code, 1, show(r));
    finding(r, "fail", "workspaces", /is inside .*which jobs must not see: set TMPDIR/);
  });
});

describe("airlock doctor: the pipeline", () => {
  test("a config error is a FAIL with its file:line:col", async () => {
    const p = new Project({
      files: { ".airlock.yml": "version: 1\njobs:\n  lint:\n    run: echo\n    netwrok: true\n" },
    });
    try {
      const r = await doctor(p);
      assert.equal(r.code, 1, show(r));
      finding(r, "fail", "config", /\.airlock\.yml:5:5: .*netwrok/);
      assert.match(r.stdout, /problems? to fix/);
    } finally {
      p.cleanup();
    }
  });

  test("no .airlock.yml and no repository: FAILs that say how to start", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "airlock-doctor-"));
    const p = new Project({ files: {} });
    try {
      const r = await p.cli(["doctor", "-C", dir], {
        env: p.env({ AIRLOCK_HOME: path.join(dir, "data") }),
      });
      assert.equal(r.code, 1, show(r));
      finding(r, "fail", "config", /no \.airlock\.yml in .*start one from docs\/configuration\.md/);
      finding(r, "fail", "git", /not inside a git repository.*git init; git commit/);
      finding(r, "ok", "data directory", /does not exist yet/);
    } finally {
      p.cleanup();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("an uncommitted change to .airlock.yml: warn, airlock run uses HEAD's", async () => {
    const p = new Project({ files: { ".airlock.yml": PUBLIC_ONLY } });
    try {
      p.write({ ".airlock.yml": `${PUBLIC_ONLY}  other:\n    run: echo other\n` });
      const r = await doctor(p);
      assert.equal(r.code, 0, show(r));
      finding(r, "warn", "git", /differs from HEAD's.*commit your change \(or run with --dirty\)/);
      assert.match(r.stdout, /all good \(\d+ warnings?\)/);
      assert.deepEqual(
        findings(r.stdout).filter((f) => f.status !== "ok" && !lowSpace(f) && f.subject !== "git"),
        [],
      );
    } finally {
      p.cleanup();
    }
  });
});

describe("airlock doctor: no bubblewrap", () => {
  const wrap = WITHOUT_BWRAP;
  let restricted: Project;
  let publicOnly: Project;
  before(async () => {
    restricted = new Project({ files: { ".airlock.yml": PIPELINE } });
    publicOnly = new Project({ files: { ".airlock.yml": PUBLIC_ONLY } });
    await restricted.setSecret("cloud", "TOKEN", VALUE);
  });
  after(() => {
    restricted?.cleanup();
    publicOnly?.cleanup();
  });

  test("restricted jobs: FAIL, they would refuse to run", async () => {
    const r = await restricted.cli(["doctor"], { wrap });
    assert.equal(r.code, 1, show(r));
    finding(
      r,
      "fail",
      "sandbox",
      /not installed.*apt-get install -y bubblewrap.*restricted jobs \(those with secrets\) will refuse to run/,
    );
    assert.ok(!findings(r.stdout).some((f) => f.subject === "network"), show(r));
  });

  test("only public jobs: warn, and --no-sandbox is named", async () => {
    const r = await publicOnly.cli(["doctor"], { wrap });
    assert.equal(r.code, 0, show(r));
    finding(r, "warn", "sandbox", /apt-get install -y bubblewrap.*airlock run --no-sandbox/);
  });
});

describe("airlock doctor: the data directory and the master key", () => {
  test("a world-readable data directory and master.key: FAIL with the chmod", async () => {
    const p = new Project({ files: { ".airlock.yml": PIPELINE }, envMasterKey: false });
    try {
      await p.setSecret("cloud", "TOKEN", VALUE);
      const keyFile = path.join(p.dataDir, "master.key");
      const keyText = readFileSync(keyFile, "utf8").trim();
      // Healthy first: the key file made by the store is private.
      const good = await doctor(p);
      assert.equal(good.code, 0, show(good));
      finding(good, "ok", "master key", /master\.key \(mode 0600\)/);

      chmodSync(p.dataDir, 0o755);
      chmodSync(keyFile, 0o644);
      const r = await doctor(p);
      assert.equal(r.code, 1, show(r));
      finding(
        r,
        "fail",
        "data directory",
        new RegExp(`mode 0755\\): run \`chmod 700 ${p.dataDir}\``),
      );
      finding(
        r,
        "fail",
        "data directory",
        new RegExp(`master\\.key is readable by group or others .*\`chmod 600 ${keyFile}\``),
      );
      finding(r, "fail", "master key", /accessible to group or others.*chmod 600/);
      assertNoSecrets(r, [VALUE, keyText, Buffer.from(keyText, "base64")]);
    } finally {
      p.cleanup();
    }
  });

  test("a wrong or malformed AIRLOCK_MASTER_KEY: FAIL that says what to check, never the key", async () => {
    const p = new Project({ files: { ".airlock.yml": PIPELINE } });
    try {
      await p.setSecret("cloud", "TOKEN", VALUE);
      const wrong = randomBytes(32);
      const r = await doctor(p, [], p.env({ AIRLOCK_MASTER_KEY: wrong.toString("base64") }));
      assert.equal(r.code, 1, show(r));
      finding(
        r,
        "fail",
        "store",
        /master key does not match the one that encrypted this store; set AIRLOCK_MASTER_KEY or restore master\.key/,
      );
      assertNoSecrets(r, [VALUE, wrong, masterKeyOf(p)]);

      const typo = `${p.masterKey!.slice(0, 60)}zz`;
      const bad = await doctor(p, [], p.env({ AIRLOCK_MASTER_KEY: typo }));
      assert.equal(bad.code, 1, show(bad));
      finding(
        bad,
        "fail",
        "master key",
        /AIRLOCK_MASTER_KEY is not a valid master key \(62 characters\)/,
      );
      assertNoSecrets(bad, [VALUE, typo, masterKeyOf(p)]);
    } finally {
      p.cleanup();
    }
  });
});

describe("airlock doctor: secret sets", () => {
  test("a set a job needs with no keys: FAIL naming `airlock secrets set`", async () => {
    const p = new Project({
      files: {
        ".airlock.yml":
          `${PIPELINE}  deploy:\n    secrets: [deploy]\n    run: echo deploy\n`.replace(
            "secrets:\n  cloud:",
            "secrets:\n  deploy: {}\n  cloud:",
          ),
      },
    });
    try {
      await p.setSecret("cloud", "TOKEN", VALUE);
      const r = await doctor(p);
      assert.equal(r.code, 1, show(r));
      finding(
        r,
        "fail",
        "set deploy",
        /no keys in the embedded store .*needed by deploy.*`airlock secrets set deploy KEY`/,
      );
      finding(r, "ok", "set cloud", /TOKEN v1/);
      assert.match(r.stdout, /\n1 problem to fix\n$/);
      assertNoSecrets(r, [VALUE, masterKeyOf(p)]);
    } finally {
      p.cleanup();
    }
  });
});

describe("airlock doctor: the serve config", () => {
  test("checks the App's key and secrets without GitHub, and never prints them", async () => {
    const p = new Project({ files: { ".airlock.yml": PUBLIC_ONLY } });
    try {
      const dir = path.join(p.root, "app");
      mkdirSync(dir);
      const pem = generateKeyPairSync("rsa", { modulusLength: 2048 })
        .privateKey.export({ type: "pkcs1", format: "pem" })
        .toString();
      const secret = randomBytes(24).toString("hex");
      writeFileSync(path.join(dir, "key.pem"), pem, { mode: 0o600 });
      writeFileSync(path.join(dir, "webhook-secret"), secret, { mode: 0o600 });
      const yml = (publicUrl: string) =>
        `github:\n  app_id: 42\n  private_key: { file: key.pem }\n  webhook_secrets: [{ file: webhook-secret }]\npublic_url: ${publicUrl}\n`;
      writeFileSync(path.join(dir, "serve.yml"), yml("http://ci.example.org"));
      const cfg = ["--serve-config", path.join(dir, "serve.yml")];

      const r = await doctor(p, cfg);
      assert.equal(r.code, 0, show(r));
      finding(r, "ok", "serve", /GitHub App 42, its private key is a valid PEM, 1 webhook secret/);
      finding(r, "warn", "serve", /public URL http:\/\/ci\.example\.org is not https/);
      assertNoSecrets(r, [pem.split("\n")[1]!, secret]);

      writeFileSync(path.join(dir, "key.pem"), "-----BEGIN RSA PRIVATE KEY-----\nnot a key\n");
      const bad = await doctor(p, cfg);
      assert.equal(bad.code, 1, show(bad));
      finding(
        bad,
        "fail",
        "serve",
        /is not a PEM private key; download one from the GitHub App's settings page/,
      );
      assertNoSecrets(bad, [secret]);
    } finally {
      p.cleanup();
    }
  });
});
