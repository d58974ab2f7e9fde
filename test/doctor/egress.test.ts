// `airlock doctor` on a pipeline with a network allow list: it runs one such job for real.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { show } from "../support/cli.js";
import { Project } from "../support/project.js";
import { doctor, finding, findings } from "./helpers.js";

describe("airlock doctor: egress", () => {
  let p: Project;
  before(() => {
    p = new Project({
      files: {
        ".airlock.yml":
          "version: 1\njobs:\n  fetch:\n    network: { allow: [registry.npmjs.org] }\n    run: npm ci\n",
      },
    });
  });
  after(() => p?.cleanup());

  test("says a job with an allow list gets its proxy, naming the jobs that use one", async () => {
    const r = await doctor(p);
    finding(r, "ok", "egress", /a job with an allow list gets its egress proxy \(used by fetch\)/);
  });

  test("checks nothing of egress for a pipeline without allow lists", async () => {
    const plain = new Project({
      files: { ".airlock.yml": "version: 1\njobs:\n  lint:\n    run: true\n" },
    });
    try {
      const r = await doctor(plain);
      assert.ok(!findings(r.stdout).some((f) => f.subject === "egress"), show(r));
    } finally {
      plain.cleanup();
    }
  });
});
