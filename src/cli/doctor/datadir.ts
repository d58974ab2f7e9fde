// The data directory (database, keys, logs): private to Airlock's user, its master key opening
// the store, and room to grow. Never prints a key or a value: only names, modes and counts.
import { existsSync, lstatSync, statfsSync, statSync } from "node:fs";
import path from "node:path";
import { DISPATCH_KEY_FILE } from "../../dispatch/keys.js";
import { APP_DIR, FILES } from "../../forge/github/manifest.js";
import { EmbeddedStore } from "../../secrets/embedded.js";
import { SecretsError } from "../../secrets/errors.js";
import { loadMasterKey, MASTER_KEY_ENV, MASTER_KEY_FILE } from "../../secrets/master-key.js";
import {
  bytes,
  type DoctorCheck,
  type DoctorContext,
  fail,
  LOW_SPACE,
  ok,
  reason,
  warn,
} from "./types.js";

/** Files under the data directory that must be readable by Airlock's user alone. */
const PRIVATE_FILES = [
  MASTER_KEY_FILE,
  "airlock.db",
  "airlock.db-wal",
  "airlock.db-shm",
  DISPATCH_KEY_FILE,
  path.join(APP_DIR, FILES.privateKey),
  path.join(APP_DIR, FILES.webhookSecret),
  path.join(APP_DIR, FILES.clientSecret),
];

const octal = (mode: number) => (mode & 0o777).toString(8).padStart(4, "0");

/** The filesystem holding `dir` (or its nearest existing ancestor): type and free bytes. */
export function filesystemOf(dir: string): { tmpfs: boolean; free: number } {
  let p = path.resolve(dir);
  while (!existsSync(p) && path.dirname(p) !== p) p = path.dirname(p);
  const s = statfsSync(p);
  // 0x01021994 is tmpfs's magic number (statfs(2)).
  return { tmpfs: s.type === 0x01021994, free: s.bavail * s.bsize };
}

/** The directory and its private files: run before the database is opened (which adds files). */
export function checkDataDirModes(dir: string): DoctorCheck[] {
  const out: DoctorCheck[] = [];
  const subject = "data directory";
  if (!existsSync(dir)) {
    out.push(ok(subject, `${dir} does not exist yet: \`airlock run\` makes it (mode 0700)`));
  } else {
    const st = statSync(dir); // a symlink to the real directory is fine
    if (!st.isDirectory()) {
      out.push(fail(subject, `${dir} is not a directory: move it away, or set AIRLOCK_HOME`));
      return out;
    }
    out.push(
      st.mode & 0o077
        ? fail(
            subject,
            `${dir} is open to group or others (mode ${octal(st.mode)}): run \`chmod 700 ${dir}\``,
          )
        : ok(subject, `${dir} (mode ${octal(st.mode)})`),
    );
    const uid = process.getuid?.();
    if (uid !== undefined && st.uid !== uid) {
      out.push(
        warn(
          subject,
          `${dir} belongs to uid ${st.uid}, not to you (uid ${uid}): run doctor as the user that runs Airlock (e.g. \`sudo -u airlock airlock doctor\`)`,
        ),
      );
    }
    const open = PRIVATE_FILES.map((rel) => path.join(dir, rel)).filter(
      (f) => existsSync(f) && lstatSync(f).mode & 0o077,
    );
    if (open.length) {
      const modes = open.map((f) => `${path.basename(f)} ${octal(lstatSync(f).mode)}`);
      out.push(
        fail(
          subject,
          `${open.map((f) => path.relative(dir, f)).join(", ")} ${open.length === 1 ? "is" : "are"} readable by group or others (${modes.join(", ")}): run \`chmod 600 ${open.join(" ")}\`${open.some((f) => path.basename(f) === MASTER_KEY_FILE) ? " (and consider the master key exposed if others could read it)" : ""}`,
        ),
      );
    }
  }
  return out;
}

/** The master key, and that it opens the store. */
export async function checkMasterKeyAndStore(ctx: DoctorContext): Promise<DoctorCheck[]> {
  const out: DoctorCheck[] = [];
  if (checkMasterKey(ctx, out)) await checkStore(ctx, out);
  return out;
}

export function checkDisk(dir: string): DoctorCheck {
  const fs = filesystemOf(dir);
  return fs.free < LOW_SPACE
    ? warn(
        "disk",
        `only ${bytes(fs.free)} free for ${dir}: logs and the database grow with every run; free some space or move the data directory (AIRLOCK_HOME)`,
      )
    : ok("disk", `${bytes(fs.free)} free for ${dir}`);
}

/** Pushes the master key's line; false when it is unusable (the store is then not opened). */
function checkMasterKey(ctx: DoctorContext, out: DoctorCheck[]): boolean {
  try {
    const key = loadMasterKey(ctx.dataDir, ctx.env, { create: false });
    out.push(
      key
        ? ok(
            "master key",
            key.source === "env"
              ? `${MASTER_KEY_ENV} is a well-formed key`
              : `${key.file} (mode 0600)`,
          )
        : ok(
            "master key",
            `none yet: ${MASTER_KEY_FILE} is made (mode 0600) when the first secret is stored, unless ${MASTER_KEY_ENV} is set; back it up apart from the database`,
          ),
    );
    return true;
  } catch (e) {
    if (!(e instanceof SecretsError)) throw e;
    out.push(fail("master key", e.message));
    return false;
  }
}

async function checkStore(ctx: DoctorContext, out: DoctorCheck[]): Promise<void> {
  const db = ctx.db;
  // No database, one that would not open or one a newer Airlock migrated: the database check says.
  if (!db || (await db.schema()).unknown.length > 0) return;
  try {
    const r = await new EmbeddedStore({
      dataDir: ctx.dataDir,
      store: db,
      env: ctx.env,
    }).verify();
    out.push(
      ok(
        "store",
        r
          ? `the master key (${r.source === "env" ? MASTER_KEY_ENV : MASTER_KEY_FILE}) opens the store: ${r.values} stored value${r.values === 1 ? " decrypts" : "s decrypt"}`
          : "the embedded store holds no secrets yet",
      ),
    );
  } catch (e) {
    // The store's messages name the fix and carry key ids (HMACs), never keys or values.
    out.push(fail("store", reason(e)));
  }
}
