import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { Command } from "commander";
import { registerCommands } from "../../src/cli/commands/index.js";

const ALL = [
  "run",
  "runs",
  "logs",
  "serve",
  "app",
  "token",
  "secrets",
  "oidc",
  "audit",
  "db",
  "prune",
  "mask",
  "schema",
  "doctor",
  "dispatch-key",
  "verify-dispatch",
  "mirror",
];

async function registered(...args: string[]): Promise<string[]> {
  const program = new Command("airlock");
  await registerCommands(program, ["node", "airlock", ...args]);
  return program.commands.map((c) => c.name());
}

test("a command line naming a command registers only that command", async () => {
  assert.deepEqual(await registered("run", "--dirty"), ["run"]);
  assert.deepEqual(await registered("--json", "runs"), ["runs"]);
  assert.deepEqual(await registered("verify-dispatch", "x"), ["dispatch-key", "verify-dispatch"]);
});

test("help, no command or an unknown one registers every command, in help order", async () => {
  assert.deepEqual(await registered(), ALL);
  assert.deepEqual(await registered("--help"), ALL);
  assert.deepEqual(await registered("help", "run"), ALL);
  assert.deepEqual(await registered("rnu"), ALL);
});

test("airlock with an unknown command still suggests the right one", () => {
  const bin = path.join(path.dirname(fileURLToPath(import.meta.url)), "../../bin/airlock.js");
  const r = spawnSync(process.execPath, [bin, "rnu"], { encoding: "utf8" });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /unknown command 'rnu'/);
  assert.match(r.stderr, /Did you mean run\?/);
});
