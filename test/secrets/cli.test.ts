import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { PassThrough, Writable } from "node:stream";
import { afterEach, beforeEach, describe, it } from "node:test";
import { registerAudit } from "../../src/cli/commands/audit.js";
import { registerSecrets } from "../../src/cli/commands/secrets.js";
import { UserError } from "../../src/cli/errors.js";
import { readSecretValue } from "../../src/secrets/input.js";
import { hexKey, runInProcess, type TempDir, tempDataDir } from "./helpers.js";

interface Result {
  out: string;
  err: string;
}

let prompted = "";
const promptOut = new Writable({
  write(chunk, _enc, cb) {
    prompted += chunk;
    cb();
  },
});

describe("airlock secrets / airlock audit", () => {
  let tmp: TempDir;
  let env: NodeJS.ProcessEnv;

  /** Runs the CLI in-process with `input` on stdin (a pipe, not a terminal). */
  const cli = (args: string[], input = ""): Promise<Result> =>
    runInProcess([registerSecrets, registerAudit], args, { dataDir: tmp.dir, env, input });

  beforeEach(() => {
    tmp = tempDataDir();
    env = { AIRLOCK_MASTER_KEY: hexKey(9) };
  });
  afterEach(() => tmp.cleanup());

  it("set reads the value from stdin (one final newline dropped) and get --reveal prints it", async () => {
    assert.match(
      (await cli(["secrets", "set", "ft", "TOKEN"], "tok-value-123456\n")).out,
      /stored ft\/TOKEN: version 1/,
    );
    assert.equal(
      (await cli(["secrets", "get", "ft", "TOKEN", "--reveal"])).out,
      "tok-value-123456",
    );
    await cli(
      ["secrets", "set", "ft", "PEM", "--file"],
      "-----BEGIN X-----\nabc\n-----END X-----\n",
    );
    assert.equal(
      (await cli(["secrets", "get", "ft", "PEM", "--reveal"])).out,
      "-----BEGIN X-----\nabc\n-----END X-----",
    );
  });

  it("never accepts a value as an argument, and does not echo it", async () => {
    await assert.rejects(
      cli(["secrets", "set", "ft", "TOKEN", "argv-secret-value"]),
      (e: Error) => {
        assert.ok(e instanceof UserError);
        assert.match(e.message, /would show in `ps` and shell history: pipe it on stdin/);
        assert.ok(!e.message.includes("argv-secret-value"));
        return true;
      },
    );
    await assert.rejects(
      cli(["secrets", "rotate", "ft", "TOKEN", "argv-secret-value"]),
      /shell history/,
    );
    assert.match((await cli(["secrets", "list"])).out, /no secrets stored/);
  });

  it("on a terminal, prompts without echoing the value", async () => {
    const stdin = Object.assign(new PassThrough(), {
      isTTY: true,
      raw: false,
      setRawMode(this: { raw: boolean }, raw: boolean) {
        this.raw = raw;
      },
    });
    const value = readSecretValue({ stdin, prompt: promptOut }, "ft/TOKEN");
    stdin.write("typed-secretX");
    stdin.write("\u007f-1\r");
    assert.equal(await value, "typed-secret-1");
    assert.equal(stdin.raw, false);
    assert.equal(prompted, "value for ft/TOKEN (input hidden): \n");
  });

  it("refuses an empty value", async () => {
    await assert.rejects(
      cli(["secrets", "set", "ft", "TOKEN"], ""),
      /refusing an empty value for ft\/TOKEN/,
    );
    await assert.rejects(cli(["secrets", "set", "ft", "TOKEN"], "\n"), /refusing an empty value/);
  });

  it("get without --reveal refuses; with it, the reveal is audited", async () => {
    await cli(["secrets", "set", "ft", "TOKEN"], "tok-value-123456");
    await assert.rejects(
      cli(["secrets", "get", "ft", "TOKEN"]),
      /refusing to print ft\/TOKEN without --reveal/,
    );
    await cli(["secrets", "set", "ft", "TOKEN"], "tok-value-654321");
    assert.equal(
      (await cli(["secrets", "get", "ft", "TOKEN", "--reveal", "--at-version", "1"])).out,
      "tok-value-123456",
    );
    const audit = JSON.parse((await cli(["audit", "--json", "--action", "reveal"])).out);
    assert.equal(audit.length, 1);
    assert.deepEqual(
      [audit[0].set, audit[0].key, audit[0].versions],
      ["ft", "TOKEN", { TOKEN: 1 }],
    );
    assert.match(audit[0].actor, /^cli:/);
  });

  it("list shows names, versions and times, never values", async () => {
    await cli(["secrets", "set", "ft", "TOKEN"], "tok-value-123456");
    await cli(["secrets", "rotate", "ft", "TOKEN"], "tok-value-654321");
    await cli(["secrets", "set", "ft", "PEM", "--file"], "pem-value-abcdef");
    const { out } = await cli(["secrets", "list"]);
    assert.match(out, /^SET\s+KEY\s+VERSION\s+KEPT\s+AS\s+UPDATED\s+ROTATED/);
    assert.match(out, /ft\s+PEM\s+1\s+1\s+file\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+-/);
    assert.match(out, /ft\s+TOKEN\s+2\s+2,1\s+env\s+\S+ \S+\s+\d{4}-/);
    assert.ok(!out.includes("tok-value") && !out.includes("pem-value"));
    const json = (await cli(["secrets", "list", "ft", "--json"])).out;
    assert.ok(!json.includes("tok-value"));
    assert.equal(JSON.parse(json).length, 2);
  });

  it("import reads a dotenv file, all or none", async () => {
    const file = path.join(tmp.dir, "ft.env");
    writeFileSync(
      file,
      [
        "# functional tests",
        "export AWS_ACCESS_KEY_ID=AKIA-value-1234",
        "AWS_SECRET_ACCESS_KEY='single # not a comment'",
        'MULTI="line one\\nline two"',
        "PLAIN=plain-value  # a comment",
        "",
      ].join("\n"),
    );
    assert.match(
      (await cli(["secrets", "import", "ft", "--env-file", file])).out,
      /imported 4 keys into ft/,
    );
    assert.equal(
      (await cli(["secrets", "get", "ft", "AWS_SECRET_ACCESS_KEY", "--reveal"])).out,
      "single # not a comment",
    );
    assert.equal(
      (await cli(["secrets", "get", "ft", "MULTI", "--reveal"])).out,
      "line one\nline two",
    );
    assert.equal((await cli(["secrets", "get", "ft", "PLAIN", "--reveal"])).out, "plain-value");

    writeFileSync(file, "GOOD=good-value-1\nBAD KEY=x\n");
    await assert.rejects(
      cli(["secrets", "import", "other", "--env-file", file]),
      /ft\.env:2: expected KEY=value/,
    );
    writeFileSync(file, "GOOD=good-value-1\nEMPTY=\n");
    await assert.rejects(
      cli(["secrets", "import", "other", "--env-file", file]),
      /ft\.env:2: EMPTY has an empty value/,
    );
    assert.match((await cli(["secrets", "list", "other"])).out, /no secret set "other"/);
    await assert.rejects(
      cli(["secrets", "import", "other", "--env-file", path.join(tmp.dir, "missing.env")]),
      /cannot read .*ENOENT/,
    );
  });

  it("rollback, delete and rekey from the command line", async () => {
    await cli(["secrets", "set", "ft", "TOKEN"], "tok-value-111111");
    await cli(["secrets", "set", "ft", "TOKEN"], "tok-value-222222");
    assert.match((await cli(["secrets", "rollback", "ft", "TOKEN"])).out, /version 2 -> 1/);
    assert.equal(
      (await cli(["secrets", "get", "ft", "TOKEN", "--reveal"])).out,
      "tok-value-111111",
    );

    await assert.rejects(
      cli(["secrets", "rekey"]),
      /comes from AIRLOCK_MASTER_KEY: give the new key on stdin/,
    );
    await assert.rejects(
      cli(["secrets", "rekey", "--new-key-stdin"], "short"),
      /the new key on stdin is not a valid master key/,
    );
    const r = await cli(["secrets", "rekey", "--new-key-stdin", "--data-key"], `${hexKey(10)}\n`);
    assert.match(r.out, /rekeyed: .*1 values re-encrypted/);
    await assert.rejects(
      cli(["secrets", "get", "ft", "TOKEN", "--reveal"]),
      /the master key does not match/,
    );
    env = { AIRLOCK_MASTER_KEY: hexKey(10) };
    assert.equal(
      (await cli(["secrets", "get", "ft", "TOKEN", "--reveal"])).out,
      "tok-value-111111",
    );

    assert.match((await cli(["secrets", "delete", "ft", "TOKEN"])).out, /deleted ft\/TOKEN/);
    await assert.rejects(cli(["secrets", "delete", "ft"]), /there is no secret set "ft"/);
    const actions = JSON.parse((await cli(["audit", "--json"])).out).map(
      (a: { action: string }) => a.action,
    );
    assert.deepEqual(actions, ["set", "set", "rollback", "reveal", "rekey", "reveal", "delete"]);
    const table = (await cli(["audit"])).out;
    assert.match(table, /^SEQ\s+TIME\s+ACTOR\s+ACTION/);
    assert.ok(!table.includes("tok-value"));
  });
});
