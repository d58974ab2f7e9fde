import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import fc from "fast-check";
import { branchNameProblem } from "../../src/suite/index.js";

function gitAccepts(name: string): boolean {
  const r = spawnSync("git", ["check-ref-format", "--branch", name], {
    encoding: "utf8",
    env: { PATH: process.env.PATH, GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null" },
  });
  return r.status === 0;
}

// Characters that matter to git's rules and to shells, plus ordinary ones and non-ASCII.
const alphabet = [..."ab-_./@{}~^:?*[\\ \t\n\x01\x7f$`;|&'\"()<>é🚀", "lock", "HEAD", ".."];
const candidate = fc
  .array(fc.constantFrom(...alphabet), { minLength: 1, maxLength: 8 })
  .map((parts) => parts.join(""))
  // Argv cannot carry NUL, and "@{-N}" is expanded by git from the reflog of the cwd.
  .filter((s) => !s.includes("\0"));

describe("branch name validation", () => {
  it("never accepts a name that git check-ref-format --branch rejects", () => {
    fc.assert(
      fc.property(candidate, (name) => {
        if (branchNameProblem(name) === null) assert.ok(gitAccepts(name), JSON.stringify(name));
      }),
      { numRuns: 300 },
    );
  });

  it("accepts the names git accepts (slashes, unicode, shell syntax)", () => {
    for (const name of [
      "feature/x",
      "é/ünïcødé-🚀",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: shell syntax as test data
      "$(touch${IFS}x)",
      "a;b",
      "back`x`",
      "feature-2",
      "v1.2",
      "a@b",
      "-x/y".slice(1),
    ]) {
      assert.ok(gitAccepts(name), name);
      assert.equal(branchNameProblem(name), null, name);
    }
  });

  it("agrees with git on most random names (not needlessly strict)", () => {
    let disagreements = 0;
    fc.assert(
      fc.property(candidate, (name) => {
        if (gitAccepts(name) !== (branchNameProblem(name) === null)) disagreements++;
      }),
      { numRuns: 200 },
    );
    assert.ok(disagreements <= 10, `${disagreements} disagreements`);
  });
});
