import assert from "node:assert/strict";
import { test } from "node:test";
import { api, filePath, query, segment } from "../../src/forge/github/path.js";

test("every interpolated value becomes one encoded segment", () => {
  assert.equal(api`/repos/${"acme"}/${"a/b?c#d"}/pulls/${7}`, "/repos/acme/a%2Fb%3Fc%23d/pulls/7");
  assert.equal(segment("$(rm -rf /);`id`|&"), "%24(rm%20-rf%20%2F)%3B%60id%60%7C%26");
  assert.equal(segment("../../etc"), "..%2F..%2Fetc");
});

test("dot segments and empty values are refused", () => {
  for (const bad of ["", ".", ".."]) assert.throws(() => segment(bad), /refusing the URL segment/);
  assert.throws(() => api`/repos/${"acme"}/${".."}/pulls`, /refusing/);
});

test("file paths keep folders but refuse traversal and absolute paths", () => {
  assert.equal(filePath("docs/a b.md"), "docs/a%20b.md");
  assert.throws(() => filePath("../secret"), /refusing/);
  assert.throws(() => filePath("a/../../b"), /refusing/);
  assert.throws(() => filePath("/etc/passwd"), /absolute/);
});

test("query strings encode values and drop undefined ones", () => {
  assert.equal(query({ ref: "a&b=c", skip: undefined, n: 5 }), "?ref=a%26b%3Dc&n=5");
  assert.equal(query({}), "");
});
