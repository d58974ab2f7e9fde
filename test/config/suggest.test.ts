import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { closest, didYouMean, editDistance } from "../../src/config/suggest.js";

describe("suggest", () => {
  it("counts a swap of neighbours as one edit", () => {
    assert.equal(editDistance("biuld", "build"), 1);
    assert.equal(editDistance("", "abc"), 3);
    assert.equal(editDistance("kitten", "sitting"), 3);
  });

  it("suggests only plausible typos", () => {
    assert.equal(closest("timout", ["timeout", "tags", "run"]), "timeout");
    assert.equal(closest("NEEDS", ["needs", "network"]), "needs");
    assert.equal(closest("everyone", ["orgs", "teams", "users"]), undefined);
    assert.equal(closest("do", ["go", "aws"]), "go");
    assert.equal(closest("x", ["abc"]), undefined);
    assert.equal(didYouMean("biuld", ["build", "deploy"]), ' (did you mean "build"?)');
    assert.equal(didYouMean("zzz", ["build"]), "");
  });
});
