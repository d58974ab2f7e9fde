// Artifacts attacked through the real runner, the real bubblewrap executor, the embedded secret
// store and real files: trust flows one way (a pull request's public job never feeds a job
// holding secrets; a secret-bearing job feeds only jobs holding its sets, with its text redacted
// and its binaries refused), links never carry a read or a write out of the workspace, and size
// bombs are refused before a byte of them is read.
import assert from "node:assert/strict";
import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, describe, test } from "node:test";
import { ArtifactStore, DEFAULT_ARTIFACT_LIMITS } from "../../src/artifacts/store.js";
import { parseConfig } from "../../src/config/loader.js";
import { git, Project } from "../support/project.js";
import { PR, runPipeline, TRUSTED } from "./helpers.js";

const TOKEN = "tok_8f3a9c2e71d04b5a";

/** Every byte under `dir`, as one string (what an attacker would get out of the store). */
function allBytes(dir: string): string {
  let out = "";
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) out += readFileSync(path.join(e.parentPath, e.name), "latin1");
  }
  return out;
}

describe("artifacts: trust, links and size bombs (real sandbox)", () => {
  const projects: Project[] = [];
  const project = (files: Record<string, string>) => {
    const p = new Project({ files });
    projects.push(p);
    return p;
  };
  after(() => {
    for (const p of projects) p.cleanup();
  });

  test("a pull request's public artifacts reach its public jobs, never a job holding secrets; a trusted run passes them", async () => {
    const p = project({
      ".airlock.yml": `version: 1
secrets:
  deploy: { backend: embedded }
jobs:
  build:
    run: mkdir -p dist && echo built-by-build > dist/app.txt
    artifacts: [dist/]
  unit:
    needs: [build]
    run: cat dist/app.txt
  deploy:
    needs: [build]
    secrets: [deploy]
    run: cat dist/app.txt 2>/dev/null || echo "no dist/app.txt"
`,
    });
    await p.setSecret("deploy", "TOKEN", TOKEN);
    const pr = await runPipeline(p, PR);
    assert.deepEqual(pr.states, { build: "passed", unit: "passed", deploy: "passed" });
    assert.match(pr.log("build"), /airlock: artifacts: kept 1 file \(15 bytes\)/);
    assert.match(pr.log("unit"), /artifacts: received 1 file \(15 bytes\) from build/);
    assert.match(pr.log("unit"), /^built-by-build$/m);
    assert.match(
      pr.log("deploy"),
      /artifacts: not received from build: it is a public job of an untrusted run: its files never reach a job holding secrets/,
    );
    assert.match(pr.log("deploy"), /^no dist\/app\.txt$/m);
    assert.doesNotMatch(pr.log("deploy"), /built-by-build/);

    const trusted = await runPipeline(p, TRUSTED);
    assert.match(trusted.log("deploy"), /received 1 file \(15 bytes\) from build/);
    assert.match(trusted.log("deploy"), /^built-by-build$/m);
  });

  test("a secret-bearing job's artifacts: text redacted, binaries refused, and received only by jobs holding its sets", async () => {
    const p = project({
      ".airlock.yml": `version: 1
secrets:
  deploy: { backend: embedded }
  other: { backend: embedded }
jobs:
  mint:
    secrets: [deploy]
    run: |
      mkdir -p out
      echo "token=$TOKEN" > out/env.txt
      printf 'bin\\000%s' "$TOKEN" > out/blob.bin
    artifacts: [out/]
  public-reader:
    needs: [mint]
    run: ls out 2>/dev/null || echo "no out"
  same-set:
    needs: [mint]
    secrets: [deploy]
    run: cat out/env.txt; ls out
  other-set:
    needs: [mint]
    secrets: [other]
    run: ls out 2>/dev/null || echo "no out"
`,
    });
    await p.setSecret("deploy", "TOKEN", TOKEN);
    await p.setSecret("other", "OTHER", "other_value_123456");
    for (const trust of [TRUSTED, PR]) {
      const r = await runPipeline(p, trust);
      assert.equal(r.states.mint, "passed", r.log("mint"));
      assert.match(
        r.log("mint"),
        /out\/blob\.bin not kept: a job holding secrets keeps text files only/,
      );
      const kept = readFileSync(r.store.storedPath(r.runId, "mint", "out/env.txt"), "utf8");
      assert.match(kept, /^token=\[redacted:TOKEN\]$/m);
      assert.ok(!allBytes(r.store.dir).includes(TOKEN), "the secret is nowhere in the store");
      assert.match(
        r.log("public-reader"),
        /not received from mint: it held deploy, which this job does not/,
      );
      assert.match(r.log("public-reader"), /^no out$/m);
      assert.match(r.log("other-set"), /not received from mint: it held deploy/);
      assert.match(r.log("other-set"), /^no out$/m);
      assert.match(r.log("same-set"), /received 1 file .* from mint/);
      assert.match(r.log("same-set"), /^env\.txt$/m);
    }
  });

  test("links: a symlink the job leaves (to a host file, a host directory, or climbing out) is never followed when keeping", async () => {
    const p = project({ "README.md": "x\n" });
    const outside = path.join(p.root, "outside");
    mkdirSync(outside);
    writeFileSync(path.join(outside, "id_rsa"), "HOST PRIVATE KEY\n");
    p.commit({
      ".airlock.yml": `version: 1
jobs:
  sneaky:
    env: { OUTSIDE: "${outside}" }
    run: |
      mkdir -p dist && echo ok > dist/real.txt
      ln -s "$OUTSIDE/id_rsa" dist/key
      ln -s "$OUTSIDE" dist/host
      ln -s "../../../../../../../../..$OUTSIDE/id_rsa" dist/climb
      ln -s "$OUTSIDE" leak
    artifacts: [dist/**, dist/host/id_rsa, leak/, leak/id_rsa]
`,
    });
    const r = await runPipeline(p, TRUSTED);
    assert.equal(r.states.sneaky, "passed", r.log("sneaky"));
    const log = r.log("sneaky");
    assert.match(log, /dist\/key not kept: it is a symlink/);
    assert.match(log, /dist\/climb not kept: it is a symlink/);
    assert.match(log, /dist\/host not kept: it is a symlink/);
    assert.match(log, /kept 1 file \(3 bytes\)/);
    assert.deepEqual(
      (await r.store.manifest(r.runId, "sneaky"))?.files.map((f) => f.path),
      ["dist/real.txt"],
    );
    assert.ok(!allBytes(r.store.dir).includes("HOST PRIVATE KEY"));
  });

  test("links: symlinks committed in the checkout are replaced on receive, never written through", async () => {
    const p = project({ "README.md": "x\n" });
    const outside = path.join(p.root, "outside");
    mkdirSync(outside);
    writeFileSync(path.join(outside, "victim"), "victim-original\n");
    p.commit({
      out: "a plain file where a directory will be asked for\n",
      ".airlock.yml": `version: 1
jobs:
  make:
    run: |
      rm -f dist notes.txt out
      mkdir dist out && echo fresh > dist/app.js && echo new-notes > notes.txt && echo x > out/x
    artifacts: [dist/, notes.txt, out/]
  use:
    needs: [make]
    run: |
      cat dist/app.js notes.txt
      test ! -L dist && test ! -L notes.txt && echo real-files
      cat out
`,
    });
    // Committed links to the host: a directory and a file.
    symlinkSync(outside, path.join(p.repo, "dist"));
    symlinkSync(path.join(outside, "victim"), path.join(p.repo, "notes.txt"));
    git(p.repo, "add", "-A");
    git(p.repo, "commit", "-q", "-m", "links");

    const r = await runPipeline(p, TRUSTED);
    assert.equal(r.states.use, "passed", `${r.log("make")}\n${r.log("use")}`);
    const log = r.log("use");
    assert.match(log, /^fresh\nnew-notes\nreal-files$/m);
    assert.match(
      log,
      /artifacts: out\/x from make not received: a file of the checkout stands where its directory goes/,
    );
    assert.match(log, /^a plain file where a directory will be asked for$/m);
    assert.deepEqual(readdirSync(outside).sort(), ["victim"]);
    assert.equal(readFileSync(path.join(outside, "victim"), "utf8"), "victim-original\n");
  });

  test("size bombs: a sparse file over the budget and too many files are refused before they are read", async () => {
    const p = project({
      ".airlock.yml": `version: 1
jobs:
  huge:
    run: mkdir -p dist && truncate -s 20G dist/huge.bin && echo small > dist/small.txt
    artifacts: [dist/]
  many:
    run: mkdir -p many && for i in $(seq 1 21); do echo $i > many/f$i; done
    artifacts: [many/]
  after-huge:
    needs: [huge]
    run: ls dist 2>/dev/null || echo "no dist"
`,
    });
    const r = await runPipeline(p, TRUSTED, { jobFiles: 20 });
    assert.match(
      r.log("huge"),
      /artifacts: not kept: 20 GiB, more than the 256 MiB a job may keep \(AIRLOCK_ARTIFACTS_JOB_SIZE\)/,
    );
    assert.match(r.log("many"), /artifacts: not kept: 21 files, more than the 20 a job may keep/);
    assert.match(r.log("after-huge"), /artifacts: huge kept no files/);
    assert.match(r.log("after-huge"), /^no dist$/m);
    assert.deepEqual(await r.store.list(r.runId), []);
  });
});

describe("artifacts: the store's retention and budget", () => {
  const p = new Project({ files: { "README.md": "x\n" } });
  after(() => p.cleanup());

  async function keep(store: ArtifactStore, runId: string, bytes: number, created: number) {
    const staged = await store.staging();
    writeFileSync(path.join(staged, "files", "a.txt"), "x".repeat(bytes));
    const file = { path: "a.txt", size: bytes, exec: false, text: true };
    await store.commit(staged, { runId, jobId: "j", credentials: [], created, files: [file] });
  }
  const runs = (store: ArtifactStore) =>
    readdirSync(store.dir)
      .filter((d) => !d.startsWith("."))
      .sort();

  test("runs older than the retention go; over the budget the oldest go first, never the run being kept", async () => {
    const day = 86_400_000;
    const store = new ArtifactStore(path.join(p.dataDir, "a"), {
      ...DEFAULT_ARTIFACT_LIMITS,
      totalBytes: 1000,
      retentionMs: 30 * day,
    });
    const now = Date.now();
    await keep(store, "old", 10, now - 31 * day);
    await keep(store, "recent", 10, now - 29 * day);
    assert.deepEqual(runs(store), ["recent"]);
    await keep(store, "r1", 600, now - 1000);
    assert.deepEqual(runs(store), ["r1", "recent"]);
    await keep(store, "r2", 600, now);
    assert.deepEqual(runs(store), ["r2"], "recent and r1 were the oldest; r2 is being kept");
    // A run over the whole budget is still kept until the next one comes.
    await keep(store, "r3", 1500, now + 1);
    assert.deepEqual(runs(store), ["r3"]);
  });
});

describe("artifacts: configuration", () => {
  for (const bad of ["../x", "/etc/passwd", "~/.ssh"]) {
    test(`${bad} is a configuration error`, () => {
      assert.throws(
        () =>
          parseConfig(
            `version: 1\njobs:\n  a:\n    run: "true"\n    artifacts: ["${bad}"]\n`,
            ".airlock.yml",
          ),
        (e: Error) =>
          e.message.includes("artifact paths must stay inside the workspace") &&
          e.message.includes(JSON.stringify(bad)),
      );
    });
  }
});
