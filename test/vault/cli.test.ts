// `airlock secrets …` on Vault sets: the pipeline in the project directory says which sets live
// in Vault; set/rotate write KV versions through the backend, get --reveal reads them (audited),
// list shows keys and rotation reminders, and what only the embedded store can do is refused.
import assert from "node:assert/strict";
import {
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
import { afterEach, before, beforeEach, describe, it } from "node:test";
import { registerAudit } from "../../src/cli/commands/audit.js";
import { registerSecrets } from "../../src/cli/commands/secrets.js";
import { UserError } from "../../src/cli/errors.js";
import { hexKey, runInProcess } from "../secrets/helpers.js";
import {
  assertNoLeak,
  assertNoViolations,
  deadAddress,
  SECRETS_V1,
  SECRETS_V2,
  type World,
  world,
} from "./helpers.js";

const DAY = 86_400_000;
const NEW_VALUE = "rotated-secret-key-0fa1b2c3d4e5f60718293a4b";

const PIPELINE = `version: 1
secrets:
  functional-tests:
    backend: vault
    vault:
      path: secret/data/functional-tests
      mode: token
      policies: [functional-tests-read]
      rotate_every: 30d
  renamed:
    backend: vault
    vault:
      path: secret/data/functional-tests
      keys: { SCW_KEY: SCALEWAY_SECRET_KEY }
  stale:
    backend: vault
    vault: { path: secret/data/stale, rotate_every: 30d }
  legacy:
    backend: vault
    vault: { path: kv/legacy }
  local:
    backend: embedded
  from-env:
    backend: env
    keys: [DEPLOY_TOKEN]
jobs:
  functional:
    secrets: [functional-tests]
    run: "true"
`;

interface Result {
  out: string;
  err: string;
}

let deadVault: string;
before(async () => {
  deadVault = await deadAddress();
});

/** The seed's layout, plus a set written 40 days ago and a KV v1 secret. */
async function vaultWorld(): Promise<World> {
  const w = await world();
  // Written 40 days ago by the double's clock: past its 30d reminder.
  w.vault.advance(-40 * DAY);
  w.vault.kvPut("stale", { STALE_TOKEN: "stale-token-value-7d6c5b4a" });
  w.vault.advance(40 * DAY);
  w.vault.kv1Put("legacy", { LEGACY_PASSWORD: "legacy-password-value-99" });
  w.secrets.push("stale-token-value-7d6c5b4a", "legacy-password-value-99", NEW_VALUE);
  return w;
}

describe("airlock secrets with Vault sets", () => {
  let project: string;
  let dataDir: string;
  let env: NodeJS.ProcessEnv;
  let w: World;

  const cli = (args: string[], input = "", dir = project): Promise<Result> =>
    runInProcess([registerSecrets, registerAudit], args, { dataDir, env, input, project: dir });

  /** Expects a one-line user error; checks it leaks nothing and returns its text. */
  async function fails(args: string[], input = "", dir = project): Promise<string> {
    try {
      await cli(args, input, dir);
    } catch (e) {
      assert.ok(e instanceof UserError, `expected a UserError, got ${String(e)}`);
      assertNoLeak(e.message, [...w.secrets, w.airlockToken]);
      return e.message;
    }
    assert.fail(`expected \`airlock ${args.join(" ")}\` to fail`);
  }

  /** Every byte of every file of the data directory. */
  function dataDirBytes(): string {
    const parts: string[] = [];
    const walk = (d: string) => {
      for (const name of readdirSync(d)) {
        const p = path.join(d, name);
        if (statSync(p).isDirectory()) walk(p);
        else parts.push(readFileSync(p).toString("latin1"));
      }
    };
    walk(dataDir);
    return parts.join("\n");
  }

  beforeEach(async () => {
    w = await vaultWorld();
    project = mkdtempSync(path.join(tmpdir(), "airlock-vault-cli-"));
    dataDir = path.join(project, ".airlock");
    mkdirSync(dataDir, { mode: 0o700 });
    writeFileSync(path.join(project, ".airlock.yml"), PIPELINE);
    env = {
      AIRLOCK_MASTER_KEY: hexKey(7),
      VAULT_ADDR: w.vault.address,
      VAULT_TOKEN: w.airlockToken,
    };
  });
  afterEach(async () => {
    rmSync(project, { recursive: true, force: true });
    assertNoViolations(w.vault);
    await w.vault.close();
  });

  it("list shows embedded and Vault keys side by side, with rotation reminders, never values", async () => {
    await cli(["secrets", "set", "local", "API_TOKEN"], "local-token-value-123456");
    const { out } = await cli(["secrets", "list"]);
    assert.match(out, /^SET\s+KEY\s+VERSION\s+KEPT\s+AS\s+UPDATED\s+ROTATED\s+FROM/);
    assert.match(out, /local\s+API_TOKEN\s+1\s+1\s+env\s+\S+ \S+\s+-\s+embedded/);
    for (const key of Object.keys(SECRETS_V2)) {
      assert.match(
        out,
        new RegExp(
          `functional-tests\\s+${key}\\s+2\\s+2,1\\s+env\\s+\\S+ \\S+\\s+-\\s+vault secret/data/functional-tests`,
        ),
      );
    }
    assert.match(out, /renamed\s+SCW_KEY\s+2\s+2,1\s+env/);
    assert.match(out, /legacy\s+LEGACY_PASSWORD\s+1\s+1\s+env\s+-\s+-\s+vault kv\/legacy/);
    assert.match(
      out,
      /^rotation: functional-tests: last rotated \d+ minutes ago; next rotation due in 29 days$/m,
    );
    assert.match(
      out,
      /^rotation due: stale: last rotated 40 days ago; rotate_every is 30d \(10 days overdue\); rotate with `airlock secrets rotate stale KEY`$/m,
    );
    assertNoLeak(out, [...w.secrets, "local-token-value-123456"]);

    const json = JSON.parse((await cli(["secrets", "list", "stale", "--json"])).out);
    assert.equal(json.length, 1);
    assert.equal(json[0].backend, "vault");
    assert.equal(json[0].path, "secret/data/stale");
    assert.equal(json[0].rotation.due, true);
    assert.equal(json[0].rotation.every, "30d");
    assert.match((await cli(["secrets", "list", "local"])).out, /local\s+API_TOKEN/);
  });

  it("rotate writes a new KV version through the backend, keeps the other keys, and is audited", async () => {
    const { out, err } = await cli(
      ["secrets", "rotate", "functional-tests", "AWS_SECRET_ACCESS_KEY"],
      `${NEW_VALUE}\n`,
    );
    assert.equal(
      out,
      "rotated functional-tests/AWS_SECRET_ACCESS_KEY in Vault at secret/data/functional-tests: version 3\n",
    );
    assert.equal(err, "");
    const versions = w.vault.kvVersions("functional-tests")!;
    assert.deepEqual(versions.get(3)?.data, { ...SECRETS_V2, AWS_SECRET_ACCESS_KEY: NEW_VALUE });
    // The write was check-and-set against the version it read.
    assert.ok(
      w.vault.requests.some(
        (r) => r.method === "POST" && r.path === "/v1/secret/data/functional-tests",
      ),
    );

    // Through a key mapping, `set` writes the mapped key of the same secret.
    assert.match(
      (await cli(["secrets", "set", "renamed", "SCW_KEY"], "scw-rotated-value-5544332211")).out,
      /^stored renamed\/SCW_KEY in Vault at secret\/data\/functional-tests: version 4\n$/,
    );
    assert.equal(versions.get(4)?.data.SCALEWAY_SECRET_KEY, "scw-rotated-value-5544332211");
    assert.equal(versions.get(4)?.data.AWS_SECRET_ACCESS_KEY, NEW_VALUE);
    // KV v1 keeps no versions.
    assert.match(
      (await cli(["secrets", "rotate", "legacy", "LEGACY_PASSWORD"], "legacy-rotated-value-77"))
        .out,
      /written \(KV version 1 keeps no versions\)/,
    );

    const audit = (await cli(["audit", "--json"])).out;
    const entries = JSON.parse(audit) as {
      action: string;
      set: string;
      key: string;
      versions: unknown;
      detail: string;
    }[];
    assert.deepEqual(
      entries.map((e) => [e.action, e.set, e.key, e.versions, e.detail]),
      [
        [
          "rotate",
          "functional-tests",
          "AWS_SECRET_ACCESS_KEY",
          { AWS_SECRET_ACCESS_KEY: 3 },
          "vault secret/data/functional-tests",
        ],
        ["set", "renamed", "SCW_KEY", { SCW_KEY: 4 }, "vault secret/data/functional-tests"],
        ["rotate", "legacy", "LEGACY_PASSWORD", { LEGACY_PASSWORD: "kv1" }, "vault kv/legacy"],
      ],
    );
    assertNoLeak(dataDirBytes(), [
      NEW_VALUE,
      "scw-rotated-value-5544332211",
      "legacy-rotated-value-77",
      w.airlockToken,
    ]);
  });

  it("get --reveal reads a Vault value (current or a kept version) and audits the reveal", async () => {
    assert.match(
      await fails(["secrets", "get", "functional-tests", "AWS_ACCESS_KEY_ID"]),
      /refusing to print functional-tests\/AWS_ACCESS_KEY_ID without --reveal/,
    );
    assert.equal(
      (await cli(["secrets", "get", "functional-tests", "AWS_ACCESS_KEY_ID", "--reveal"])).out,
      SECRETS_V2.AWS_ACCESS_KEY_ID,
    );
    assert.equal(
      (
        await cli([
          "secrets",
          "get",
          "functional-tests",
          "AWS_ACCESS_KEY_ID",
          "--reveal",
          "--at-version",
          "1",
        ])
      ).out,
      SECRETS_V1.AWS_ACCESS_KEY_ID,
    );
    assert.equal(
      (await cli(["secrets", "get", "renamed", "SCW_KEY", "--reveal"])).out,
      SECRETS_V2.SCALEWAY_SECRET_KEY,
    );
    assert.equal(
      (await cli(["secrets", "get", "legacy", "LEGACY_PASSWORD", "--reveal"])).out,
      "legacy-password-value-99",
    );
    const reveals = JSON.parse((await cli(["audit", "--action", "reveal", "--json"])).out) as {
      set: string;
      versions: unknown;
      detail: string;
    }[];
    assert.deepEqual(
      reveals.map((r) => [r.set, r.versions, r.detail]),
      [
        ["functional-tests", { AWS_ACCESS_KEY_ID: 2 }, "vault secret/data/functional-tests"],
        ["functional-tests", { AWS_ACCESS_KEY_ID: 1 }, "vault secret/data/functional-tests"],
        ["renamed", { SCW_KEY: 2 }, "vault secret/data/functional-tests"],
        ["legacy", { LEGACY_PASSWORD: "kv1" }, "vault kv/legacy"],
      ],
    );
    assert.match(
      await fails(["secrets", "get", "renamed", "AWS_ACCESS_KEY_ID", "--reveal"]),
      /"AWS_ACCESS_KEY_ID" is not a variable of set "renamed": its `keys:` map SCW_KEY/,
    );
    assert.match(
      await fails([
        "secrets",
        "get",
        "functional-tests",
        "AWS_ACCESS_KEY_ID",
        "--reveal",
        "--at-version",
        "99",
      ]),
      /secret\/data\/functional-tests has no live version 99/,
    );
    assert.match(
      await fails(["secrets", "get", "legacy", "LEGACY_PASSWORD", "--reveal", "--at-version", "1"]),
      /KV version 1 mount, which keeps no versions/,
    );
    assertNoLeak(dataDirBytes(), [...w.secrets, w.airlockToken]);
  });

  it("refuses clearly what a Vault or env set cannot do from here", async () => {
    assert.match(
      await fails(["secrets", "set", "functional-tests", "NEW_KEY"], "new-key-value-0001"),
      /set "functional-tests" has no key "NEW_KEY" at secret\/data\/functional-tests .*add new keys in Vault itself/,
    );
    assert.match(
      await fails(
        ["secrets", "set", "functional-tests", "AWS_ACCESS_KEY_ID", "--file"],
        "x-value-0001",
      ),
      /--file and --keep apply to the embedded store, and set "functional-tests" lives in Vault/,
    );
    assert.match(
      await fails(["secrets", "rollback", "functional-tests", "AWS_ACCESS_KEY_ID"]),
      /lives in Vault \(secret\/data\/functional-tests\): do it in Vault \(`vault kv rollback/,
    );
    assert.match(
      await fails(["secrets", "delete", "functional-tests"]),
      /delete it in Vault itself/,
    );
    const file = path.join(project, "x.env");
    writeFileSync(file, "A=value-aaaa\n");
    assert.match(
      await fails(["secrets", "import", "functional-tests", "--env-file", file]),
      /lives in Vault .*`vault kv patch`/,
    );
    assert.match(
      await fails(["secrets", "set", "from-env", "DEPLOY_TOKEN"], "deploy-value-0001"),
      /takes its values from Airlock's environment \(backend: env\)/,
    );
    assert.match(
      await fails(["secrets", "get", "from-env", "DEPLOY_TOKEN", "--reveal"]),
      /nothing stored to reveal/,
    );
    // Nothing was written anywhere.
    assert.equal(w.vault.kvVersions("functional-tests")!.size, 2);
    assert.match((await cli(["secrets", "list", "local"])).out, /no secret set "local"/);
  });

  it("Vault down, a wrong token, or no VAULT_ADDR: one clear line each, nothing leaked", async () => {
    await cli(["secrets", "set", "local", "API_TOKEN"], "local-token-value-123456");
    env.VAULT_ADDR = deadVault;
    const rotate = await fails(
      ["secrets", "rotate", "functional-tests", "AWS_ACCESS_KEY_ID"],
      NEW_VALUE,
    );
    assert.match(
      rotate,
      /cannot reach Vault at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\): check VAULT_ADDR/,
    );
    assert.ok(!rotate.includes(NEW_VALUE));
    // list still shows what it can, then names the sets it could not list.
    const listed = await cli(["secrets", "list"]).then(
      () => assert.fail("list should fail"),
      (e: UserError & Result) => e,
    );
    assert.match(
      listed.message,
      /^could not list functional-tests, legacy, renamed, stale \(vault\): .*cannot reach Vault/,
    );
    assert.match(listed.out, /^SET\s+KEY.*\nlocal\s+API_TOKEN\s+1\s/);
    assertNoLeak(`${listed.message}${listed.out}`, [...w.secrets, w.airlockToken]);

    env.VAULT_ADDR = w.vault.address;
    env.VAULT_TOKEN = "hvs.not-a-token-that-vault-knows";
    w.secrets.push(env.VAULT_TOKEN);
    assert.match(
      await fails(["secrets", "get", "functional-tests", "AWS_ACCESS_KEY_ID", "--reveal"]),
      /^403 on .*: the token's policies do not allow read, or the token has expired or was revoked/,
    );
    delete env.VAULT_ADDR;
    assert.match(
      await fails(["secrets", "rotate", "functional-tests", "AWS_ACCESS_KEY_ID"], NEW_VALUE),
      /a secret set uses Vault but VAULT_ADDR is not set in Airlock's environment/,
    );
    assert.equal(w.vault.kvVersions("functional-tests")!.size, 2);
    const audit = (await cli(["audit", "--json"])).out;
    assert.deepEqual(
      (JSON.parse(audit) as { action: string }[]).map((e) => e.action),
      ["set"],
      "failed Vault operations leave no audit entry",
    );
  });

  it("without .airlock.yml only the embedded store is known, and the messages say so", async () => {
    const bare = mkdtempSync(path.join(tmpdir(), "airlock-vault-cli-bare-"));
    try {
      const miss = await fails(
        ["secrets", "get", "functional-tests", "AWS_ACCESS_KEY_ID", "--reveal"],
        "",
        bare,
      );
      assert.match(miss, /no secret set "functional-tests"/);
      assert.match(
        miss,
        /no \.airlock\.yml in .*, so only the embedded store was searched: for a set in Vault, run this in the project directory or pass -C <project>/,
      );
      const listed = (await cli(["secrets", "list", "functional-tests"], "", bare)).out;
      assert.match(
        listed,
        /no secret set "functional-tests" in .*only the embedded store was searched/,
      );
      const { out, err } = await cli(
        ["secrets", "set", "functional-tests", "AWS_ACCESS_KEY_ID"],
        "embedded-value-0001",
        bare,
      );
      assert.match(out, /^stored functional-tests\/AWS_ACCESS_KEY_ID: version 1\n$/);
      assert.match(err, /no \.airlock\.yml in .*"functional-tests" goes to the embedded store/);
      assert.equal(w.vault.kvVersions("functional-tests")!.size, 2, "Vault untouched");
    } finally {
      rmSync(bare, { recursive: true, force: true });
    }
    // With a pipeline, a set it does not declare is still stored, with a note.
    const { err } = await cli(["secrets", "set", "undeclared", "K"], "undeclared-value-1");
    assert.match(err, /"undeclared" is not declared under `secrets:` in \.airlock\.yml/);
  });

  it("a broken .airlock.yml is reported with its position, not guessed around", async () => {
    writeFileSync(
      path.join(project, ".airlock.yml"),
      "version: 1\nsecrets:\n  x: { backend: vaults }\njobs: {}\n",
    );
    assert.match(await fails(["secrets", "list"]), /\.airlock\.yml:3:\d+: secrets\.x\.backend/);
  });
});
