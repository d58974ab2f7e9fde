// The audit log never holds a secret value: every path that writes an entry about secrets (set,
// rotate, import, rollback, reveal, delete, rekey, a release to a job with env_override) runs
// for real, then the table itself and both download formats are searched for every value in
// every encoding a careless writer could use.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { SecretSetSchema } from "../../src/config/schema.js";
import { EmbeddedStore } from "../../src/secrets/embedded.js";
import { SecretsService } from "../../src/secrets/grants.js";
import type { AuditRepo, OpenedStore } from "../../src/store/index.js";
import { exportLines } from "../../src/web/console/audit-page.js";
import { hexKey, openTestDb, rawSqlite, type TempDir, tempDataDir } from "../secrets/helpers.js";

const VALUES = {
  first: "aws-first-Zq8!value+/=",
  rotated: "aws-rotated-Kx3&<value>",
  imported: `imported "quoted" value-77`,
  file: "-----BEGIN KEY-----\nline-of-key-material\n",
  fromEnv: "env-override-value-Yy5",
};

function forms(value: string): string[] {
  const b = Buffer.from(value, "utf8");
  const b64 = b.toString("base64");
  return [
    value,
    b64,
    b64.replace(/=+$/, ""),
    b.toString("hex"),
    encodeURIComponent(value),
    JSON.stringify(value).slice(1, -1),
    // Long enough to mean something, short enough to catch a truncated copy.
    value.slice(0, 12),
  ];
}

function assertClean(where: string, text: string): void {
  for (const [name, value] of Object.entries(VALUES)) {
    for (const f of forms(value)) {
      assert.ok(!text.includes(f), `${where} holds the ${name} value (as ${JSON.stringify(f)})`);
    }
  }
}

async function collect(it: AsyncIterable<string>): Promise<string> {
  let out = "";
  for await (const s of it) out += s;
  return out;
}

describe("the audit log holds no secret value", () => {
  let tmp: TempDir;
  let opened: OpenedStore;
  let audit: AuditRepo;

  before(async () => {
    tmp = tempDataDir();
    opened = await openTestDb(tmp.dir);
    audit = opened.audit;
    const env = { AIRLOCK_MASTER_KEY: hexKey(3) };
    const store = new EmbeddedStore({ dataDir: tmp.dir, store: opened, env });
    const actor = "cli:tester";
    await store.set("ft", "AWS_SECRET_ACCESS_KEY", VALUES.first, { actor });
    await store.rotate("ft", "AWS_SECRET_ACCESS_KEY", VALUES.rotated, { actor });
    await store.set("ft", "SSH_KEY", VALUES.file, { actor, file: true });
    await store.import("ft", [{ key: "API_TOKEN", value: VALUES.imported }], { actor });
    await store.reveal("ft", "AWS_SECRET_ACCESS_KEY", { actor });
    await store.rollback("ft", "AWS_SECRET_ACCESS_KEY", actor);
    const svc = new SecretsService({
      dataDir: tmp.dir,
      store: opened,
      sets: { ft: SecretSetSchema.parse({ env_override: true }) },
      env: { ...env, API_TOKEN: VALUES.fromEnv },
    });
    const grants = await svc.grantsFor(
      { id: "functional", secrets: ["ft"] },
      { runId: "run-1", jobId: "functional", timeoutMs: 60_000 },
    );
    // The grant does carry the values (the job needs them): the log must not.
    assert.equal(grants[0]?.env.API_TOKEN, VALUES.fromEnv);
    await Promise.all(grants.map((g) => g.release()));
    await store.delete("ft", "SSH_KEY", actor);
    await store.rekey({ actor, newKey: randomBytes(32) });
  });
  after(async () => {
    await opened.close();
    tmp.cleanup();
  });

  it("every kind of secret entry was written", async () => {
    const actions = new Set((await audit.list()).map((r) => r.action));
    for (const a of [
      "set",
      "rotate",
      "import",
      "reveal",
      "rollback",
      "release",
      "delete",
      "rekey",
    ]) {
      assert.ok(actions.has(a), `no ${a} entry`);
    }
    const release = (await audit.list({ action: "release" }))[0];
    assert.equal((release?.versions as Record<string, unknown> | undefined)?.API_TOKEN, "env");
    assert.match(release?.detail ?? "", /API_TOKEN taken from Airlock's environment/);
  });

  it("no column of any row holds a value", () => {
    const rows = rawSqlite(opened).prepare("SELECT * FROM audit").all();
    assert.ok(rows.length >= 8);
    assertClean("the audit table", JSON.stringify(rows));
    // The search itself finds a value that is there.
    for (const v of Object.values(VALUES)) {
      assert.throws(() => assertClean("probe", `x${v}y`));
    }
  });

  it("neither download format holds a value", async () => {
    const csv = await collect(exportLines(audit.scan({}), "csv"));
    const jsonl = await collect(exportLines(audit.scan({}), "jsonl"));
    assert.match(csv, /^seq,time,actor,action,/);
    assert.match(jsonl, /"action":"release"/);
    assertClean("the CSV download", csv);
    assertClean("the JSON-lines download", jsonl);
  });
});
