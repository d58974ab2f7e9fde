// `airlock serve` as a user starts it over a data directory: a new installation only where nothing
// of Airlock's is (said loudly), never with --no-init; a database that is missing, empty (0 bytes)
// or has corrupt pages, or Airlock's files without a database, are refused with one line saying
// what to restore, no stack trace, and the files left as they were.
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
import { after, before, test } from "node:test";
import { runCli, show } from "../support/cli.js";
import { startServe } from "./helpers.js";

let root: string;
const env = { ...process.env, AIRLOCK_HOME: "", AIRLOCK_DATABASE_URL: "" };
before(() => {
  root = mkdtempSync(path.join(tmpdir(), "airlock-first-"));
});
after(() => rmSync(root, { recursive: true, force: true }));

/** Every file under `dir` with its SHA-256, to show nothing was written. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(dir, { recursive: true }) as string[]) {
    const p = path.join(dir, name);
    if (statSync(p).isFile())
      out[name] = createHash("sha256").update(readFileSync(p)).digest("hex");
  }
  return out;
}

const serve = (dataDir: string, ...args: string[]) =>
  runCli(["serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir, ...args], {
    cwd: root,
    env,
  });

/** One line on stderr matching `re`, exit 2, no stack trace, and nothing written. */
async function refusedStart(dataDir: string, re: RegExp, ...args: string[]): Promise<void> {
  const before = existsSync(dataDir) ? snapshot(dataDir) : undefined;
  const r = await serve(dataDir, ...args);
  assert.equal(r.code, 2, show(r));
  assert.match(r.stderr, re, show(r));
  assert.equal(r.stderr.trim().split("\n").length, 1, `one line:\n${show(r)}`);
  assert.doesNotMatch(r.stderr, /\n\s+at |Error:/, "no stack trace");
  if (before) assert.deepEqual(snapshot(dataDir), before, "nothing in the data directory changed");
  else assert.equal(existsSync(dataDir), false, "no data directory was made");
}

/** A data directory made by a first `serve`, stopped again; its database file. */
async function initialised(name: string): Promise<{ dataDir: string; db: string }> {
  const dataDir = path.join(root, name);
  const served = await startServe(["--data-dir", dataDir], { cwd: root, env, expectLink: true });
  assert.equal(await served.stop(), 0, served.output());
  assert.match(
    served.output(),
    /NEW INSTALLATION: nothing of Airlock's was in .* so a new one was made/,
  );
  assert.ok(existsSync(path.join(dataDir, "installation.json")));
  // A second start finds it, and says nothing of a new one (--no-init: it must find it).
  const again = await startServe(["--data-dir", dataDir, "--no-init"], {
    cwd: root,
    env,
    expectLink: true,
  });
  assert.equal(await again.stop(), 0, again.output());
  assert.doesNotMatch(again.output(), /NEW INSTALLATION/);
  return { dataDir, db: path.join(dataDir, "airlock.db") };
}

test("an absent data directory is a first start; with --no-init it is refused", async () => {
  await refusedStart(
    path.join(root, "fresh"),
    /^airlock: no Airlock installation in .*fresh, and --no-init forbids making one/,
    "--no-init",
  );
  await initialised("fresh");
});

test("an empty data directory (an unmounted volume's mount point) is a first start", async () => {
  const dataDir = path.join(root, "mount-point");
  mkdirSync(dataDir);
  await refusedStart(dataDir, /no Airlock installation in .*, and --no-init forbids/, "--no-init");
  await initialised("mount-point");
});

test("Airlock's files without a database are refused; --init makes a new one beside them", async () => {
  const { dataDir, db } = await initialised("leftovers");
  rmSync(path.join(dataDir, "installation.json"));
  for (const f of readdirSync(dataDir)) {
    if (f.startsWith("airlock.db")) rmSync(path.join(dataDir, f));
  }
  await refusedStart(
    dataDir,
    /holds Airlock's files \(.*dispatch-ed25519\.pem.*\), but its database .*airlock\.db is missing: restore it/,
  );
  const served = await startServe(["--data-dir", dataDir, "--init"], {
    cwd: root,
    env,
    expectLink: true,
  });
  assert.equal(await served.stop(), 0, served.output());
  assert.ok(existsSync(db));
});

test("a deleted database with its data directory left is refused", async () => {
  const { dataDir, db } = await initialised("deleted");
  rmSync(db);
  await refusedStart(
    dataDir,
    /holds an installation made .* but its database .*airlock\.db is missing: restore it from your backup/,
  );
  assert.equal(existsSync(db), false);
});

test("a 0-byte database is refused", async () => {
  const { dataDir, db } = await initialised("empty");
  for (const f of readdirSync(dataDir)) {
    if (f.startsWith("airlock.db-")) rmSync(path.join(dataDir, f));
  }
  writeFileSync(db, "");
  await refusedStart(dataDir, /the database .*airlock\.db is empty \(0 bytes\): restore it/);
  // --init does not start over on it either.
  const r = await serve(dataDir, "--init");
  assert.equal(r.code, 2, show(r));
  assert.equal(statSync(db).size, 0);
});

test("a database with corrupt pages is refused", async () => {
  const { dataDir, db } = await initialised("corrupt");
  // The last page is a table's or an index's: its b-tree header is overwritten.
  const fd = openSync(db, "r+");
  writeSync(fd, Buffer.alloc(64, 0xa5), 0, 64, statSync(db).size - 4096);
  closeSync(fd);
  await refusedStart(dataDir, /the database .*airlock\.db is damaged \(.*\): stop every Airlock/);
});

test("airlock db init makes the installation once; serve --no-init then starts", async () => {
  const dataDir = path.join(root, "db-init");
  const init = () => runCli(["db", "init", "--data-dir", dataDir], { cwd: root, env });
  const first = await init();
  assert.equal(first.code, 0, show(first));
  assert.match(first.stdout, /installation ready, database sqlite:.*airlock\.db/);
  const again = await init();
  assert.equal(again.code, 0, show(again));
  assert.match(again.stdout, /is there already .*; nothing to do/);
  const served = await startServe(["--data-dir", dataDir, "--no-init"], {
    cwd: root,
    env,
    expectLink: true,
  });
  assert.equal(await served.stop(), 0, served.output());
  assert.doesNotMatch(served.output(), /NEW INSTALLATION/);
  // It does not start over on a database that is gone.
  rmSync(path.join(dataDir, "airlock.db"));
  const gone = await init();
  assert.equal(gone.code, 2, show(gone));
  assert.match(gone.stderr, /holds an installation made .* is missing: restore it/);
  assert.equal(existsSync(path.join(dataDir, "airlock.db")), false);
});
