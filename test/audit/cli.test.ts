// `airlock audit` in-process: the console's filters, --limit and --before pages that reach every
// entry once, messages that name the bad option, and a --help that documents them.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Command } from "commander";
import { registerAudit } from "../../src/cli/commands/audit.js";
import { openTestDb, runInProcess, type TempDir, tempDataDir } from "../secrets/helpers.js";

const T0 = Date.UTC(2025, 0, 31, 10, 0, 0);

describe("airlock audit", () => {
  let tmp: TempDir;

  const cli = (args: string[]) => runInProcess([registerAudit], args, { dataDir: tmp.dir });
  const json = async (args: string[]) =>
    JSON.parse((await cli([...args, "--json"])).out) as { seq: number; action: string }[];

  before(async () => {
    tmp = tempDataDir();
    const db = await openTestDb(tmp.dir);
    const log = db.audit;
    for (let i = 0; i < 45; i++) {
      await log.record({
        action: ["release", "rotate", "console-cancel"][i % 3] as string,
        actor: i % 2 ? "alice" : "airlock",
        runId: i % 3 === 0 ? `run-${i % 4}` : null,
        set: i % 3 !== 2 ? "functional-tests" : null,
        versions: { KEY: 1 },
        at: T0 + i * 3_600_000,
      });
    }
    await db.close();
  });
  after(() => tmp.cleanup());

  it("pages with --limit and the --before it suggests, reaching every entry once", async () => {
    const seen: number[] = [];
    let args = ["audit", "--limit", "10"];
    for (let n = 0; n < 10; n++) {
      const { out, err } = await cli(args);
      const seqs = [...out.matchAll(/^(\d+)\s/gm)].map((m) => Number(m[1]));
      assert.ok(seqs.length > 0);
      // Oldest first within a page, as a log reads.
      assert.deepEqual(
        seqs,
        [...seqs].sort((a, b) => a - b),
      );
      seen.unshift(...seqs);
      const next = /add --before (\d+)/.exec(err);
      if (!next) break;
      assert.equal(Number(next[1]), seqs[0]);
      args = ["audit", "--limit", "10", "--before", next[1] as string];
    }
    assert.deepEqual(
      seen,
      Array.from({ length: 45 }, (_, i) => i + 1),
    );
    const all = await cli(["audit", "--limit", "0"]);
    assert.equal(all.err, "", "no hint when every entry is shown");
    assert.equal(all.out.trim().split("\n").length, 46);
  });

  it("filters by kind (action or group), actor, run, set and time", async () => {
    const seqs = async (args: string[]) =>
      (await json(["audit", "--limit", "0", ...args])).map((r) => r.seq);
    const idx = (f: (i: number) => boolean) =>
      Array.from({ length: 45 }, (_, i) => i)
        .filter(f)
        .map((i) => i + 1);
    assert.deepEqual(
      await seqs(["--kind", "release"]),
      idx((i) => i % 3 === 0),
    );
    assert.deepEqual(
      await seqs(["--action", "release"]),
      idx((i) => i % 3 === 0),
    );
    assert.deepEqual(
      await seqs(["--kind", "console"]),
      idx((i) => i % 3 === 2),
    );
    assert.deepEqual(
      await seqs(["--kind", "secret-changes"]),
      idx((i) => i % 3 === 1),
    );
    assert.deepEqual(
      await seqs(["--actor", "alice"]),
      idx((i) => i % 2 === 1),
    );
    assert.deepEqual(
      await seqs(["--run", "run-2"]),
      idx((i) => i % 3 === 0 && i % 4 === 2),
    );
    assert.deepEqual(
      await seqs(["--set", "functional-tests", "--kind", "rotate"]),
      idx((i) => i % 3 === 1),
    );
    // 2025-01-31 10:00 + i hours: --until 2025-01-31 keeps i <= 13, --since 12:00 keeps i >= 2.
    assert.deepEqual(
      await seqs(["--since", "2025-01-31 12:00", "--until", "2025-01-31"]),
      idx((i) => i >= 2 && i <= 13),
    );
    const table = (await cli(["audit", "--kind", "rotate", "--limit", "2"])).out;
    assert.match(table, /^SEQ\s+TIME\s+ACTOR\s+ACTION/);
    assert.match(table, /^44\s+2025-02-02 05:00:00\s+alice\s+rotate/m);
  });

  it("names the option a bad value was given to", async () => {
    const refuses = async (args: string[], message: RegExp) =>
      assert.rejects(cli(["audit", ...args]), (e: Error) => message.test(e.message));
    await refuses(["--since", "last week"], /^--since: "last week" is not a UTC date or time/);
    await refuses(["--until", "2025-02-30"], /^--until: "2025-02-30" is not a UTC date/);
    await refuses(
      ["--since", "2025-02-01", "--until", "2025-01-01"],
      /^--until: must come after --since/,
    );
    await refuses(["--before", "ten"], /^--before: "ten" is not an entry number/);
    await refuses(["--kind", "Rotate!"], /^--kind: "Rotate!" is not a kind of entry/);
    await refuses(["--action", "x y"], /^--action: "x y" is not a kind of entry/);
    await refuses(
      ["--kind", "release", "--action", "rotate"],
      /--kind and --action are the same filter/,
    );
    await refuses(["--limit", "many"], /--limit takes a number of entries/);
  });

  it("documents the filters, the cursor and the time format in --help", async () => {
    let help = "";
    await assert.rejects(async () => {
      const program = new Command("airlock").exitOverride();
      program.configureOutput({ writeOut: (s) => (help += s), writeErr: (s) => (help += s) });
      registerAudit(program, { env: {}, openStore: openTestDb });
      await program.parseAsync(["node", "airlock", "audit", "--help"]);
    }, /outputHelp|help/i);
    for (const must of [
      "--kind <kind>",
      "--actor <actor>",
      "--since <time>",
      "--until <time>",
      "--before <seq>",
      "-n, --limit <n>",
      "secret-changes",
      "approvals",
      "2024-05-01T13:45",
    ]) {
      assert.ok(help.includes(must), `--help lacks ${must}`);
    }
  });
});
