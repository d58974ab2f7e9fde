// A damaged database is never taken for a new one: a data directory whose database is missing,
// empty (0 bytes), not a database, or fails PRAGMA quick_check is refused with what to restore, and
// nothing is written over it; a new installation is made only where nothing of Airlock's is, and
// by `airlock serve` only when told to. On every engine where the case exists.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import {
  type DatabaseOptions,
  type InitMode,
  InstallationError,
  openStore,
} from "../../src/store/index.js";
import { INSTALLATION_FILE, readInstallation } from "../../src/store/installation.js";
import { engines } from "../support/engines.js";

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(path.join(tmpdir(), "airlock-install-"));
  dirs.push(d);
  return d;
}

const sha = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");
const MODES: InitMode[] = ["first-use", "refuse", "init"];

/** Opening refuses with an InstallationError whose message matches `re`. */
async function refused(
  o: { dataDir: string; database?: DatabaseOptions | undefined; init?: InitMode; verify?: boolean },
  re: RegExp,
): Promise<void> {
  await assert.rejects(openStore(o), (e: unknown) => {
    assert.ok(e instanceof InstallationError, `an InstallationError, not ${String(e)}`);
    assert.match(e.message, re);
    assert.doesNotMatch(e.message, /\n/, "one line, no stack trace");
    return true;
  });
}

/** A data directory with an installation whose database holds records spread over many pages. */
async function installed(database?: DatabaseOptions): Promise<string> {
  const dataDir = tempDir();
  const s = await openStore({ dataDir, database, init: "init" });
  for (let i = 0; i < 200; i++) {
    await s.audit.record({ action: "set", actor: "test", detail: `${i} ${"x".repeat(400)}` });
  }
  await s.close();
  return dataDir;
}

for (const engine of await engines()) {
  describe(`installation on ${engine.name}`, () => {
    it("an absent or empty data directory is a first start, made and said; refuse (--no-init) makes none", async () => {
      for (const absent of [true, false]) {
        const f = await engine.fresh();
        try {
          const dataDir = path.join(f.dataDir, "new");
          if (!absent) mkdirSync(dataDir);
          await refused(
            { dataDir, database: f.database, init: "refuse" },
            /no Airlock installation in .*, and --no-init forbids making one/,
          );
          assert.equal(existsSync(dataDir), !absent, "nothing was made");
          if (!absent) assert.deepEqual(readdirSync(dataDir), []);
          const s = await openStore({ dataDir, database: f.database });
          await s.close();
          assert.equal(s.madeInstallation, true, "a new installation, said so");
          const made = readInstallation(dataDir);
          assert.ok(made, "the installation is recorded");
          assert.equal(made.database, s.location);
          // From then on every start finds it, and none is a new one.
          const again = await openStore({ dataDir, database: f.database, init: "refuse" });
          await again.close();
          assert.equal(again.madeInstallation, false);
        } finally {
          f.cleanup();
        }
      }
    });

    it("Airlock's files without a database are refused on first use and by refuse; init makes one beside them", async () => {
      const f = await engine.fresh();
      try {
        const dataDir = tempDir();
        writeFileSync(path.join(dataDir, "master.key"), "k".repeat(64), { mode: 0o600 });
        writeFileSync(path.join(dataDir, "dispatch-ed25519.pem"), "key", { mode: 0o600 });
        mkdirSync(path.join(dataDir, "logs", "run-1"), { recursive: true });
        // On PostgreSQL keys alone are no evidence (a replica's may come from a secret store).
        for (const init of ["first-use", "refuse"] as const) {
          await refused(
            { dataDir, database: f.database, init },
            engine.name === "sqlite"
              ? /holds Airlock's files \(master\.key, dispatch-ed25519\.pem, logs\/\), but its database .* is missing: restore it/
              : /holds Airlock's files \(logs\/\), but the database at postgres:.* holds no Airlock schema/,
          );
        }
        assert.equal(existsSync(path.join(dataDir, "airlock.db")), false);
        if (engine.name === "postgres") {
          const s = await openStore({ dataDir: tempDir(), database: f.database, migrate: false });
          assert.deepEqual((await s.schema()).applied, [], "no schema was made");
          await s.close();
          // A replica's first start with its keys put there beforehand.
          const keysOnly = tempDir();
          writeFileSync(path.join(keysOnly, "master.key"), "k".repeat(64), { mode: 0o600 });
          const other = await engine.fresh();
          try {
            const r = await openStore({ dataDir: keysOnly, database: other.database });
            await r.close();
            assert.equal(r.madeInstallation, true);
          } finally {
            other.cleanup();
          }
        }
        const s = await openStore({ dataDir, database: f.database, init: "init" });
        await s.close();
        assert.equal(s.madeInstallation, true);
        assert.ok(readInstallation(dataDir));
      } finally {
        f.cleanup();
      }
    });

    it("an installation whose database is gone is refused, whatever the start, and not remade", async () => {
      const dataDir = await installed((await engine.fresh()).database);
      // SQLite: the file deleted; PostgreSQL: a database with no Airlock schema configured.
      let database: DatabaseOptions | undefined;
      if (engine.name === "sqlite") rmSync(path.join(dataDir, "airlock.db"));
      else database = (await engine.fresh()).database;
      for (const init of MODES) {
        await refused(
          { dataDir, database, init },
          engine.name === "sqlite"
            ? /holds an installation made .* but its database .*airlock\.db is missing: restore it from your backup/
            : /holds an installation made .* but the database at postgres:.* holds no Airlock schema: point AIRLOCK_DATABASE_URL at the database this installation uses/,
        );
      }
      if (engine.name === "sqlite") {
        assert.equal(existsSync(path.join(dataDir, "airlock.db")), false, "no new database");
      } else {
        const s = await openStore({ dataDir: tempDir(), database, migrate: false });
        assert.deepEqual((await s.schema()).applied, [], "no schema was made");
        await s.close();
      }
    });
  });
}

describe("installation on sqlite: damaged files", () => {
  it("a 0-byte database is refused, and stays as it is", async () => {
    const dataDir = await installed();
    const file = path.join(dataDir, "airlock.db");
    writeFileSync(file, "");
    for (const init of MODES) {
      await refused(
        { dataDir, init },
        /the database .*airlock\.db is empty \(0 bytes\): restore it from your backup.*will not start over/,
      );
    }
    // Also where no installation was ever recorded (an Airlock older than the record).
    rmSync(path.join(dataDir, INSTALLATION_FILE));
    await refused({ dataDir }, /is empty \(0 bytes\)/);
    assert.equal(statSync(file).size, 0);
    assert.deepEqual(
      readdirSync(dataDir).filter((n) => n.startsWith("airlock.db")),
      ["airlock.db"],
      "no -wal or -shm file was made",
    );
  });

  it("a database with corrupt pages is refused at a start (quick_check), its bytes untouched", async () => {
    const dataDir = await installed();
    const file = path.join(dataDir, "airlock.db");
    // The last page holds audit rows: its b-tree header is overwritten.
    const pageSize = 4096;
    const last = statSync(file).size - pageSize;
    const fd = openSync(file, "r+");
    writeSync(fd, Buffer.alloc(64, 0xa5), 0, 64, last);
    closeSync(fd);
    const before = sha(file);
    for (const init of MODES) {
      await refused(
        { dataDir, init, verify: true },
        /the database .*airlock\.db is damaged \((PRAGMA quick_check: |database disk image is malformed).*restore it from your backup/,
      );
    }
    assert.equal(sha(file), before, "not a byte written");
  });

  it("a file that is not a database is refused as damaged", async () => {
    const dataDir = await installed();
    const file = path.join(dataDir, "airlock.db");
    const fd = openSync(file, "r+");
    writeSync(fd, Buffer.from("this is no longer SQLite"), 0, 24, 0);
    closeSync(fd);
    const before = sha(file);
    await refused({ dataDir }, /the database .*airlock\.db is damaged \(file is not a database\)/);
    assert.equal(sha(file), before);
  });

  it("a database made before installations were recorded is taken as one", async () => {
    const dataDir = await installed();
    rmSync(path.join(dataDir, INSTALLATION_FILE));
    const s = await openStore({ dataDir, init: "refuse", verify: true });
    assert.equal((await s.audit.list()).length, 200);
    await s.close();
    assert.equal(readInstallation(dataDir)?.database, s.location);
  });
});

describe("installation moved to PostgreSQL without its records", async () => {
  const pg = (await engines()).find((e) => e.name === "postgres");
  it("is refused, naming airlock db copy", { skip: pg ? false : "no PostgreSQL" }, async () => {
    const dataDir = await installed();
    const { database } = await pg!.fresh();
    await refused(
      { dataDir, database, init: "init" },
      /holds no Airlock schema.* Copy the records first: airlock db copy --from sqlite:.*airlock\.db --to postgres:\/\//,
    );
  });
});
