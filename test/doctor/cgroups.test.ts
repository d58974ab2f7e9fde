// `airlock doctor` on cgroups: this machine's (v1, usable) through the CLI; and a cgroup v2 host
// whose Airlock cgroup is not delegated (a layout made here): a FAIL with the fix when the serve
// config would run public jobs there, a warning when it allows that knowingly or serves nothing.
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, describe, test } from "node:test";
import { checkCgroups } from "../../src/cli/doctor/cgroups.js";
import type { DoctorContext } from "../../src/cli/doctor/types.js";
import { probeCgroups } from "../../src/executors/local/cgroup-probe.js";
import { makeV2Layout } from "../executors/local/cgroup-layout.js";
import { tempDir } from "../executors/local/helpers.js";
import { show } from "../support/cli.js";
import { Project } from "../support/project.js";
import { finding, PUBLIC_ONLY } from "./helpers.js";

const t = tempDir("airlock-doctor-cgroups-");
after(() => t.cleanup());

/** A serve config of a GitHub App, with `extra` appended. */
function serveConfig(extra = ""): string {
  const dir = path.join(t.dir, `app-${Math.random().toString(36).slice(2)}`);
  mkdirSync(dir);
  const pem = generateKeyPairSync("rsa", { modulusLength: 2048 })
    .privateKey.export({ type: "pkcs1", format: "pem" })
    .toString();
  writeFileSync(path.join(dir, "key.pem"), pem, { mode: 0o600 });
  writeFileSync(path.join(dir, "secret"), "a-webhook-secret-of-some-length", { mode: 0o600 });
  const file = path.join(dir, "serve.yml");
  writeFileSync(
    file,
    `github:\n  app_id: 42\n  private_key: { file: key.pem }\n  webhook_secrets: [{ file: secret }]\n${extra}`,
  );
  return file;
}

const ctx: DoctorContext = {
  projectDir: t.dir,
  dataDir: path.join(t.dir, "data"),
  env: {},
  config: undefined,
  db: undefined,
};

/** A cgroup v2 host where Airlock shares its cgroup with a login shell: not delegated. */
const undelegated = () => {
  const { proc } = makeV2Layout(t.dir, { procs: [4242, 77] });
  return probeCgroups({ proc, pid: 4242 });
};

describe("airlock doctor: cgroups", () => {
  test("this machine: the version and controllers jobs are limited with", async () => {
    const p = new Project({ files: { ".airlock.yml": PUBLIC_ONLY } });
    try {
      const r = await p.cli(["doctor"]);
      assert.equal(r.code, 0, show(r));
      finding(r, "ok", "cgroups", /^cgroup v1 \(memory, pids, cpu\): every job gets its memory/);
    } finally {
      p.cleanup();
    }
  });

  test("FAILs when airlock serve would run public jobs without memory and process limits, with the fix", async () => {
    const [c] = await checkCgroups(ctx, serveConfig(), undelegated);
    assert.equal(c?.status, "fail", c?.message);
    assert.match(c!.message, /^cgroup v2: Airlock shares its cgroup .* with 1 other process/);
    assert.match(c!.message, /Delegate=yes \(docs\/operations\.md\)/);
    assert.match(c!.message, /airlock serve refuses public jobs/);
    assert.match(c!.message, /limits\.allow_unlimited_public_jobs: true/);
  });

  test("the switch makes it a warning that says what it allows", async () => {
    const file = serveConfig("limits:\n  allow_unlimited_public_jobs: true\n");
    const [c] = await checkCgroups(ctx, file, undelegated);
    assert.equal(c?.status, "warn", c?.message);
    assert.match(c!.message, /public jobs run WITHOUT memory and process limits/);
    // Where cgroups work, the switch is not needed and doctor says to turn it off.
    const here = await checkCgroups(ctx, file);
    assert.deepEqual(
      here.map((x) => x.status),
      ["ok", "warn"],
    );
    assert.match(here[1]!.message, /not needed here: turn it off/);
  });

  test("without a served GitHub App, a warning for airlock run", async () => {
    const [c] = await checkCgroups(ctx, undefined, undelegated);
    assert.equal(c?.status, "warn", c?.message);
    assert.match(c!.message, /jobs run here without memory, process or CPU limits/);
  });
});
