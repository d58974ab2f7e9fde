// `airlock db copy` end to end, on the example project: its SQLite data (a run with a released
// secret, the audit log, sealed secrets) copied to another database, then `airlock serve` and the
// other commands on that database show the same runs, audit entries and secrets. With PostgreSQL
// where the machine has it; to another SQLite file either way.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { Browser, type Served, startServe } from "../serve/helpers.js";
import { show } from "../support/cli.js";
import { engines } from "../support/engines.js";
import { Project, runIdOf } from "../support/project.js";

const EXAMPLE = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  "../../examples/deploy-engine",
);
const KEYS = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "DIGITALOCEAN_TOKEN"];

/** The example project's files, as committed. */
function exampleFiles(dir = EXAMPLE, rel = ""): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(dir)) {
    if (name === ".airlock" || name === "node_modules") continue;
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) Object.assign(out, exampleFiles(full, `${rel}${name}/`));
    else out[`${rel}${name}`] = readFileSync(full, "utf8");
  }
  return out;
}

let p: Project;
let runId: string;
const values = Object.fromEntries(KEYS.map((k) => [k, randomBytes(12).toString("hex")]));

before(async () => {
  p = new Project({ files: exampleFiles() });
  for (const [k, v] of Object.entries(values)) await p.setSecret("functional-tests", k, v);
  const run = await p.cli(["run", "--plain", "--labels", "test-aws-infra"]);
  assert.equal(run.code, 0, show(run));
  runId = runIdOf(run.stdout);
});
after(() => p?.cleanup());

for (const target of await engines()) {
  describe(`airlock db copy to ${target.name}`, () => {
    let env: NodeJS.ProcessEnv;
    let to: string;
    let served: Served | undefined;
    let cleanup: () => void = () => {};

    before(async () => {
      const fresh = await target.fresh();
      cleanup = fresh.cleanup;
      to = fresh.database?.url ?? `sqlite:${path.join(fresh.dataDir, "copy.db")}`;
      // The password reaches airlock through the environment, never argv.
      env = p.env(
        fresh.database?.password ? { AIRLOCK_DATABASE_PASSWORD: fresh.database.password } : {},
      );
    });
    after(async () => {
      await served?.stop();
      cleanup();
    });

    test("copies every record, verified, and refuses a database that holds rows", async () => {
      const from = `sqlite:${path.join(p.dataDir, "airlock.db")}`;
      const copy = await p.cli(["db", "copy", "--from", from, "--to", to], { env });
      assert.equal(copy.code, 0, show(copy));
      assert.match(copy.stdout, /^runs +1 +[0-9a-f]{16}$/m);
      assert.match(copy.stdout, new RegExp(`^secret_values +${KEYS.length} `, "m"));
      assert.match(copy.stdout, /counts and checksums match/);
      assert.doesNotMatch(copy.stdout + copy.stderr, /password/i);

      const again = await p.cli(["db", "copy", "--from", from, "--to", to], { env });
      assert.equal(again.code, 2, show(again));
      assert.match(again.stderr, /is not empty \(runs, jobs, /);
    });

    test("the commands on the copy see the same secrets, audit log and runs", async () => {
      const on = { ...env, AIRLOCK_DATABASE_URL: to };
      const status = await p.cli(["db", "status"], { env: on });
      assert.equal(status.code, 0, show(status));
      assert.match(status.stdout, target.name === "postgres" ? /PostgreSQL \d+/ : /SQLite 3/);
      // The sealed values open with the master key where it always was.
      const got = await p.cli(
        ["secrets", "get", "functional-tests", "AWS_SECRET_ACCESS_KEY", "--reveal"],
        { env: on },
      );
      assert.equal(got.code, 0, show(got));
      assert.equal(got.stdout.trim(), values.AWS_SECRET_ACCESS_KEY);
      const after = await p.cli(["audit", "--json", "-n", "0", "--kind", "release"], { env: on });
      assert.equal(after.code, 0, show(after));
      assert.match(after.stdout, new RegExp(runId), "the release to the run's job was copied");
      const runs = await p.cli(["runs", "--json"], { env: on });
      assert.match(runs.stdout, new RegExp(runId));
    });

    test("airlock serve on the copy shows the run, its jobs, the audit log and the secrets", async () => {
      served = await startServe(["-C", p.repo], {
        cwd: p.root,
        env: { ...env, AIRLOCK_DATABASE_URL: to },
        expectLink: true,
      });
      assert.match(
        served.output(),
        new RegExp(target.name === "postgres" ? "postgres://" : "sqlite:"),
      );
      const b = new Browser(served.url);
      assert.equal((await b.fetch(served.link!.slice(served.url.length))).status, 303);
      assert.match(await (await b.get("/runs")).text(), new RegExp(runId));
      const page = await (await b.get(`/runs/${runId}`)).text();
      assert.match(page, /build-lint-unit/);
      assert.match(page, /aws-infra/);
      const audit = await (await b.get("/audit?kind=release")).text();
      assert.match(audit, /functional-tests/);
      const secrets = await (await b.get("/secrets")).text();
      for (const k of KEYS) assert.match(secrets, new RegExp(k));
      for (const v of Object.values(values))
        assert.doesNotMatch(secrets + page + audit, new RegExp(v));
    });
  });
}
