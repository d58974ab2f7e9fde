// No secret at rest in clear (invariant 9), end to end: while a restricted job holds secrets, no
// process on the machine has a value in its argv; afterwards no file of the data directory
// (database, WAL, logs, key file) holds a value in any form; and nothing Airlock itself printed
// does either.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { type CliResult, collect, show } from "../support/cli.js";
import { filesUnder, Project } from "../support/project.js";
import { corpusSecrets, randomFrom } from "./corpus.js";
import { allForms, findLeaks, type Secret } from "./forms.js";

const corpus = corpusSecrets();
const SECRETS: Secret[] = [
  { name: "DB_PASSWORD", value: corpus.DB_PASSWORD },
  { name: "API_TOKEN", value: corpus.API_TOKEN },
  { name: "SSH_KEY", value: corpus.SSH_KEY },
  { name: "KUBE_TOKEN", value: corpus.KUBE_TOKEN },
];
/** A value set once and then rotated away: the old version is still kept, so still secret. */
const OLD_TOKEN = `old_${randomFrom("abcdefghijklmnopqrstuvwxyz0123456789", 28)}`;
const ALL = [...SECRETS, { name: "API_TOKEN (old version)", value: OLD_TOKEN }];

const PIPELINE = `version: 1
secrets:
  deploy: {}
jobs:
  holder:
    secrets: [deploy]
    run: |
      echo "holding $(env | grep -c -e DB_PASSWORD -e API_TOKEN) secrets"
      ls "$AIRLOCK_SECRETS_DIR"
      echo started
      sleep 1.5
      echo "done with $API_TOKEN"
`;

/** Every process's command line, as NUL-separated text. */
function commandLines(): { pid: string; argv: string }[] {
  const out: { pid: string; argv: string }[] = [];
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      out.push({ pid, argv: readFileSync(`/proc/${pid}/cmdline`, "latin1") });
    } catch {}
  }
  return out;
}

/** Raw, base64 and hex forms searched in binary files and argv (as latin1 text). */
function binaryNeedles(s: Secret): { kind: string; text: string }[] {
  return allForms(s.value).map((f) => ({
    kind: f.kind,
    text: Buffer.from(f.text, "utf8").toString("latin1"),
  }));
}

describe("no secret value in argv, on disk or in Airlock's own output", () => {
  let project: Project;
  let run: CliResult;
  const outputs: { what: string; r: CliResult }[] = [];
  const argvHits: string[] = [];
  let scans = 0;
  let scannedWhileRunning = false;
  /** A process with a known argv, so the scan shows it can see what it looks for. */
  const CANARY = `canary-${randomFrom("abcdefghijklmnopqrstuvwxyz", 20)}`;
  let canarySeen = false;

  before(async () => {
    // No AIRLOCK_MASTER_KEY: the store writes its key file into the data directory.
    project = new Project({ files: { ".airlock.yml": PIPELINE }, envMasterKey: false });
    const set = (key: string, value: string, file = false) =>
      project.setSecret("deploy", key, value, { file }).then((r) => {
        outputs.push({ what: `secrets set ${key}`, r });
      });
    await set("API_TOKEN", OLD_TOKEN);
    await Promise.all([
      set("DB_PASSWORD", corpus.DB_PASSWORD),
      set("SSH_KEY", corpus.SSH_KEY),
      set("KUBE_TOKEN", corpus.KUBE_TOKEN, true),
      set("API_TOKEN", corpus.API_TOKEN),
    ]);

    const canary = spawn("sh", ["-c", "sleep 3", CANARY], { stdio: "ignore" });
    const child = project.spawn(["run", "--plain", "--output"]);
    const done = collect(child, 60_000);
    let out = "";
    child.stdout!.on("data", (s: string) => {
      out += s;
    });
    const needles = ALL.map((s) => ({ s, forms: binaryNeedles(s) }));
    let finished = false;
    void done.then(() => {
      finished = true;
    });
    // Scan every process on the machine until the run ends.
    while (!finished) {
      const running = out.includes("holder | started") && !out.includes("passed  holder");
      for (const { pid, argv } of commandLines()) {
        if (argv.includes(CANARY)) canarySeen = true;
        for (const { s, forms } of needles) {
          for (const f of forms) {
            if (argv.includes(f.text)) argvHits.push(`pid ${pid}: ${s.name} as ${f.kind}`);
          }
        }
      }
      scans++;
      if (running) scannedWhileRunning = true;
      await new Promise((r) => setTimeout(r, 50));
    }
    run = await done;
    canary.kill();
    outputs.push({ what: "run", r: run });
    outputs.push({ what: "secrets list", r: await project.cli(["secrets", "list"]) });
    outputs.push({ what: "audit", r: await project.cli(["audit"]) });
  });
  after(() => project?.cleanup());

  test("the restricted job ran and held its secrets", () => {
    assert.equal(run.code, 0, show(run));
    assert.match(run.stdout, /holder \| holding 2 secrets/);
    assert.match(run.stdout, /holder \| KUBE_TOKEN/);
    assert.match(run.stdout, /holder \| done with \[redacted:API_TOKEN\]/);
  });

  test("no process on the machine had a value in its argv while the job ran", () => {
    assert.ok(scannedWhileRunning, `no scan while the job was running (${scans} scans)`);
    assert.ok(canarySeen, "the scan did not see a process it should have");
    assert.deepEqual(argvHits, []);
  });

  test("no file of the data directory holds a value in any form", () => {
    const files = filesUnder(project.dataDir);
    const names = files.map((f) => f.slice(project.dataDir.length + 1));
    // The places a value could end up are all there to be searched.
    for (const expected of ["airlock.db", "master.key"]) assert.ok(names.includes(expected));
    assert.ok(names.some((n) => n.startsWith("logs/")));
    const hits: string[] = [];
    for (const file of files) {
      const text = readFileSync(file).toString("latin1");
      for (const s of ALL) {
        for (const f of binaryNeedles(s)) {
          if (text.includes(f.text)) hits.push(`${file}: ${s.name} as ${f.kind}`);
        }
      }
    }
    assert.deepEqual(hits, []);
  });

  test("Airlock's own output (secrets set/list, run, audit) carries no value", () => {
    for (const { what, r } of outputs) {
      assert.equal(r.code, 0, `${what}: ${show(r)}`);
      const leaks = [
        ...findLeaks(r.stdout, `${what} stdout`, ALL),
        ...findLeaks(r.stderr, `${what} stderr`, ALL),
      ];
      assert.deepEqual(leaks, []);
    }
    const audit = outputs.find((o) => o.what === "audit")!.r.stdout;
    assert.match(audit, /release/);
  });
});
