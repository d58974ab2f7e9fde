import assert from "node:assert/strict";
import { test } from "node:test";
import { apply, plan } from "../src/plan.mjs";

test("creates what is missing, updates what changed, deletes what is gone", () => {
  const steps = plan(
    [
      { name: "vpc", spec: { cidr: "10.0.0.0/16" } },
      { name: "db", spec: { size: "small" } },
    ],
    [
      { name: "db", spec: { size: "tiny" } },
      { name: "old-bucket", spec: {} },
    ],
  );
  assert.deepEqual(
    steps.map((s) => `${s.op}:${s.name}`),
    ["create:vpc", "update:db", "delete:old-bucket"],
  );
});

test("an up-to-date deployment has nothing to do", () => {
  const r = [{ name: "vpc", spec: { cidr: "10.0.0.0/16" } }];
  assert.deepEqual(plan(r, r), []);
});

test("apply stops at the first failing step", async () => {
  const calls = [];
  const client = {
    create: async (n) => calls.push(n),
    delete: async () => {
      throw new Error("quota exceeded");
    },
  };
  await assert.rejects(
    apply(
      [
        { op: "create", name: "a" },
        { op: "delete", name: "b" },
        { op: "create", name: "c" },
      ],
      client,
    ),
    /quota/,
  );
  assert.deepEqual(calls, ["a"]);
});
