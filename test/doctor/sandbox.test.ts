// The sandbox checks' pure parts: which kernel setting forbids user namespaces, and reading a
// sandbox's interfaces. (The kernel settings themselves cannot be changed by a test.)
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, test } from "node:test";
import { interfaces, userNamespaceLimits } from "../../src/cli/doctor/sandbox.js";

function procSys(settings: Record<string, string>): string {
  const root = mkdtempSync(path.join(tmpdir(), "airlock-procsys-"));
  for (const [name, value] of Object.entries(settings)) {
    const file = path.join(root, ...name.split("."));
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, `${value}\n`);
  }
  return root;
}

describe("userNamespaceLimits", () => {
  test("names each setting that forbids unprivileged user namespaces, with its fix", () => {
    const root = procSys({
      "kernel.apparmor_restrict_unprivileged_userns": "1",
      "kernel.unprivileged_userns_clone": "0",
      "user.max_user_namespaces": "0",
    });
    try {
      const limits = userNamespaceLimits(root);
      assert.deepEqual(
        limits.map((l) => `${l.setting}=${l.value}`),
        [
          "kernel.apparmor_restrict_unprivileged_userns=1",
          "kernel.unprivileged_userns_clone=0",
          "user.max_user_namespaces=0",
        ],
      );
      assert.match(limits[0]!.fix, /AppArmor profile that allows `userns`/);
      assert.match(limits[1]!.fix, /sysctl -w kernel\.unprivileged_userns_clone=1/);
      assert.match(limits[2]!.fix, /sysctl -w user\.max_user_namespaces=/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  test("permissive or absent settings are not named", () => {
    const root = procSys({
      "kernel.apparmor_restrict_unprivileged_userns": "0",
      "user.max_user_namespaces": "63000",
    });
    try {
      assert.deepEqual(userNamespaceLimits(root), []);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

test("interfaces reads the names from /proc/net/dev", () => {
  const dev = [
    "Inter-|   Receive                            |  Transmit",
    " face |bytes    packets errs drop fifo frame|bytes",
    "    lo:       0       0    0    0    0     0        0",
    "  eth0: 1234      10    0    0    0     0      567",
    "",
  ].join("\n");
  assert.deepEqual(interfaces(dev), ["lo", "eth0"]);
});
