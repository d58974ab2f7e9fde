// DESIGN.md invariant 9: no secret value in clear anywhere in the data directory.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { SecretSetSchema } from "../../src/config/schema.js";
import { EmbeddedStore } from "../../src/secrets/embedded.js";
import { SecretsService } from "../../src/secrets/grants.js";
import type { OpenedStore } from "../../src/store/index.js";
import { openTestDb, type TempDir, tempDataDir } from "./helpers.js";

/** The forms a value could take on disk if something stored it carelessly. */
function forms(value: string): Buffer[] {
  const raw = Buffer.from(value, "utf8");
  const out = [raw, Buffer.from(value, "utf16le")];
  for (const offset of [0, 1, 2]) {
    const b64 = raw.subarray(offset).toString("base64").replace(/=+$/, "");
    // Drop the last characters, which depend on the bytes that follow.
    const stable = b64.slice(0, Math.max(0, b64.length - 3));
    out.push(Buffer.from(stable), Buffer.from(stable.replace(/\+/g, "-").replace(/\//g, "_")));
  }
  out.push(Buffer.from(raw.toString("hex")), Buffer.from(raw.toString("hex").toUpperCase()));
  return out;
}

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    return statSync(p).isDirectory() ? files(p) : [p];
  });
}

function assertNoValueOnDisk(dir: string, values: string[]): string[] {
  const seen = files(dir);
  for (const file of seen) {
    const content = readFileSync(file);
    for (const value of values) {
      for (const form of forms(value)) {
        assert.equal(content.indexOf(form), -1, `a value was found in ${path.basename(file)}`);
      }
    }
  }
  return seen.map((f) => path.basename(f));
}

describe("no secret value at rest in clear", () => {
  let tmp: TempDir;
  let opened: OpenedStore;
  const values = [
    `plain-${randomBytes(16).toString("hex")}`,
    `multi\nline\n${randomBytes(12).toString("base64")}\n`,
    `unicode-é-ß-${randomBytes(10).toString("hex")}`,
    `rotated-${randomBytes(16).toString("hex")}`,
    `rolled-back-${randomBytes(16).toString("hex")}`,
    `imported-${randomBytes(16).toString("hex")}`,
    `deleted-${randomBytes(16).toString("hex")}`,
  ];

  before(async () => {
    tmp = tempDataDir();
    opened = await openTestDb(tmp.dir);
  });
  after(async () => {
    await opened.close().catch(() => {});
    tmp.cleanup();
  });

  it("through set, rotate, rollback, import, reveal, grant, rekey and delete", async () => {
    const [plain, multi, uni, rotated, rolledBack, imported, deleted] = values as [
      string,
      ...string[],
    ];
    const store = new EmbeddedStore({ dataDir: tmp.dir, store: opened, env: {} });
    const actor = "test";
    await store.set("s", "PLAIN", plain, { actor });
    await store.set("s", "MULTI", multi!, { actor, file: true });
    await store.set("s", "UNI", uni!, { actor });
    await store.rotate("s", "PLAIN", rotated!, { actor });
    await store.set("s", "UNI", rolledBack!, { actor });
    await store.rollback("s", "UNI", actor);
    await store.import("s", [{ key: "IMPORTED", value: imported! }], { actor });
    await store.set("gone", "K", deleted!, { actor });
    await store.delete("gone", undefined, actor);
    await store.reveal("s", "PLAIN", { actor });
    const svc = new SecretsService({
      dataDir: tmp.dir,
      store: opened,
      sets: { s: SecretSetSchema.parse({}) },
      env: {},
    });
    const grants = await svc.grantsFor(
      { id: "j", secrets: ["s"] },
      { runId: "r", jobId: "j", timeoutMs: 1000 },
    );
    assert.equal(grants[0]!.env.PLAIN, rotated);

    // With the database open, so that the write-ahead log is scanned too.
    const scanned = assertNoValueOnDisk(tmp.dir, values);
    assert.ok(
      scanned.includes("airlock.db") && scanned.includes("airlock.db-wal"),
      scanned.join(","),
    );
    assert.ok(scanned.includes("master.key"));

    await store.rekey({ actor, dataKey: true });
    assertNoValueOnDisk(tmp.dir, values);
    await opened.close();
    assertNoValueOnDisk(tmp.dir, values);
  });
});
