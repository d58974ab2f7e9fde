// How `airlock serve` talks: readable log lines on a terminal with the sign-in link set apart;
// pure JSON lines on stdout otherwise, with the link on stderr.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { spawnCli } from "../support/cli.js";
import { Project } from "../support/project.js";
import { spawnInTerminal } from "../support/terminal.js";

let p: Project;
before(() => {
  p = new Project({ files: { ".airlock.yml": "version: 1\njobs:\n  unit:\n    run: echo ok\n" } });
});
after(() => p?.cleanup());

test("on a terminal: readable lines, the link apart, Ctrl-C stops it", async () => {
  const t = spawnInTerminal(["serve", "--listen", "127.0.0.1:0"], { cwd: p.repo, env: p.env() });
  try {
    await t.waitFor(/^console: http:\/\/127\.0\.0\.1:\d+\/\S+\r?$/m);
    const lines = t.output().split(/\r?\n/);
    assert.ok(
      lines.some((l) =>
        /^\d\d:\d\d:\d\d info {2}airlock gateway listening {2}url=http:\/\/127\.0\.0\.1:\d+ /.test(
          l,
        ),
      ),
      t.output(),
    );
    assert.ok(!lines.some((l) => l.startsWith("{")), `no JSON line on a terminal:\n${t.output()}`);
    const i = lines.findIndex((l) => l.startsWith("console: "));
    assert.equal(lines[i - 1], "Open the console with this sign-in link (it works once):");
    assert.equal(lines[i - 2], "", "a blank line before the link");
    t.interrupt();
    await t.waitFor(/info {2}shutting down {2}signal=SIGINT/);
    assert.equal(await t.exited, 0);
  } finally {
    t.child.kill("SIGKILL");
  }
});

test("not on a terminal: stdout is JSON lines only; the link is on stderr", async () => {
  const child = spawnCli(["serve", "--listen", "127.0.0.1:0"], { cwd: p.repo, env: p.env() });
  let stdout = "";
  let stderr = "";
  child.stdout!.setEncoding("utf8").on("data", (s: string) => {
    stdout += s;
  });
  const exited = new Promise((r) => child.once("exit", r));
  await new Promise<void>((resolve) => {
    child.stderr!.setEncoding("utf8").on("data", (s: string) => {
      stderr += s;
      if (/^console: \S+$/m.test(stderr)) resolve();
    });
    void exited.then(() => resolve());
  });
  child.kill("SIGTERM");
  await exited;
  assert.match(stderr, /^console: http:\/\/127\.0\.0\.1:\d+\/\S+$/m);
  const lines = stdout.trimEnd().split("\n");
  assert.ok(lines.length >= 2, stdout);
  for (const l of lines) {
    const o = JSON.parse(l) as { level: number; msg: string };
    assert.equal(typeof o.level, "number");
  }
  assert.ok(
    lines.some((l) => l.includes('"msg":"airlock gateway listening"')),
    stdout,
  );
  assert.doesNotMatch(stdout, /console: /);
});
