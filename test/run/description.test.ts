// A job's `description` where the docs promise it: `airlock run --plan`, the terminal, --json,
// and the console's run page.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Browser, startServe } from "../serve/helpers.js";
import { show } from "../support/cli.js";
import { Project, runIdOf } from "../support/project.js";

const PIPELINE = `version: 1
jobs:
  lint:
    description: Style & <types> of the code
    run: echo lint
  unit:
    needs: [lint]
    run: echo unit
`;

describe("job descriptions", () => {
  let p: Project;
  before(() => {
    p = new Project({ files: { ".airlock.yml": PIPELINE } });
  });
  after(() => p?.cleanup());

  test("--plan lists what would run, why and what for, and runs nothing", async () => {
    const r = await p.cli(["run", "--plan"]);
    assert.equal(r.code, 0, show(r));
    assert.equal(
      r.stdout,
      "lint\n  Style & <types> of the code\n  why: all jobs\nunit\n  needs lint\n  why: all jobs\n\n2 jobs would run; nothing was started\n",
    );
    assert.equal((await p.cli(["runs", "--json"])).stdout.trim(), "[]");
  });

  test("the terminal, --json and the console show it", async () => {
    const plain = await p.cli(["run", "--plain"]);
    assert.equal(plain.code, 0, show(plain));
    assert.match(plain.stdout, /start +lint — Style & <types> of the code\n/);
    assert.match(plain.stdout, /start +unit\n/);
    const json = await p.cli(["run", "--json"]);
    const out = JSON.parse(json.stdout) as { jobs: { id: string; description: string | null }[] };
    assert.deepEqual(
      out.jobs.map((j) => [j.id, j.description]),
      [
        ["lint", "Style & <types> of the code"],
        ["unit", null],
      ],
    );
    const served = await startServe([], { cwd: p.repo, env: p.env(), expectLink: true });
    try {
      const b = new Browser(served.url);
      await b.fetch(served.link!);
      const html = await (await b.fetch(`/runs/${runIdOf(plain.stdout)}`)).text();
      assert.match(html, /<p class="desc">Style &amp; &lt;types&gt; of the code<\/p>/);
      assert.doesNotMatch(html, /<dt>descriptions<\/dt>/, "not among the run's notes");
    } finally {
      await served.stop();
    }
  });
});
