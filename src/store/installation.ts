// Whether a data directory holds an installation, and the rules that keep a damaged one from being
// taken for a new one. A first start writes `installation.json` beside the database: from then on
// a database that is missing, empty, damaged or without Airlock's schema is refused with what to
// restore, never started over. A new installation is made only where nothing of Airlock's is (no
// record, no database file, no keys beside a SQLite file, no job logs): an absent or empty data
// directory. Where even that is unwanted (a data directory on a volume that failed to mount looks
// empty, and a gateway that started over there would acknowledge deliveries into a database
// nobody keeps), `airlock serve --no-init` refuses to make one.
import { existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { ensureDataDir } from "./datadir.js";

export const INSTALLATION_FILE = "installation.json";
/**
 * Files only an installation leaves beside its SQLite database: the embedded secret store's key
 * (secrets/master-key.ts) and the job dispatch key (dispatch/keys.ts). On PostgreSQL they are no
 * evidence: a replica's keys may be put there from a secret store before its first start.
 */
const KEYS = ["master.key", "dispatch-ed25519.pem"];

/**
 * What opening a store does when the data directory holds no installation yet.
 * - first-use: makes one where nothing of Airlock's is (airlock serve, the project commands).
 * - refuse: refuses (airlock serve --no-init: a service that must find its installation).
 * - init: makes one, also beside Airlock's files left without a database (serve --init, db init).
 * - ignore: no data directory is involved (`airlock db copy` names both databases).
 */
export type InitMode = "first-use" | "refuse" | "init" | "ignore";

export interface Installation {
  /** When the installation was made (or first seen by an Airlock that writes this file). */
  createdAt: string;
  /** Where its database is, without credentials (OpenStore.location). */
  database: string;
}

/** A data directory or database that must not be used, in words that say what to restore. */
export class InstallationError extends Error {}

const RESTORE = `restore it from your backup of the data directory (docs/operations.md, "Backups")`;
const startOver = (dataDir: string) =>
  `To start over on purpose, move the database aside, remove ${path.join(dataDir, INSTALLATION_FILE)} and run airlock serve --init (or airlock db init)`;

export function readInstallation(dataDir: string): Installation | undefined {
  const file = path.join(dataDir, INSTALLATION_FILE);
  if (!existsSync(file)) return undefined;
  try {
    const v = JSON.parse(readFileSync(file, "utf8")) as Partial<Installation>;
    return { createdAt: String(v.createdAt ?? "?"), database: String(v.database ?? "?") };
  } catch {
    // Unreadable, but there: the directory was initialised all the same.
    return { createdAt: "?", database: "?" };
  }
}

/** Records the installation (atomically: a crash leaves the old file or the new one). */
export function writeInstallation(dataDir: string, i: Installation): void {
  ensureDataDir(dataDir);
  const file = path.join(dataDir, INSTALLATION_FILE);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(i, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, file);
}

/** What in the data directory shows an earlier installation: its keys (SQLite), job logs. */
function leftovers(dataDir: string, location: string): string[] {
  const found = location.startsWith("sqlite:")
    ? KEYS.filter((f) => existsSync(path.join(dataDir, f)))
    : [];
  const logs = path.join(dataDir, "logs");
  if (existsSync(logs) && readdirSync(logs).length > 0) found.push("logs/");
  return found;
}

/**
 * Called when the database holds nothing of Airlock's (`what`: the SQLite file is missing, or the
 * database has no schema): returns when a new installation may be made there, else throws.
 */
export function mayInitialise(o: {
  dataDir: string;
  location: string;
  what: "missing" | "no schema";
  init: InitMode;
}): void {
  if (o.init === "ignore") return;
  const made = readInstallation(o.dataDir);
  const where = o.location.replace(/^sqlite:/, "");
  const gone =
    o.what === "missing"
      ? `its database ${where} is missing`
      : `the database at ${o.location} holds no Airlock schema`;
  if (made) {
    const moved =
      made.database !== o.location && made.database !== "?"
        ? ` Moving to another database? Copy the records first: airlock db copy --from ${made.database} --to ${o.location}.`
        : "";
    throw new InstallationError(
      `the data directory ${o.dataDir} holds an installation made ${made.createdAt} (database ${made.database}), but ${gone}: ${o.what === "missing" ? RESTORE : "point AIRLOCK_DATABASE_URL at the database this installation uses, or restore it from your backup"}. Airlock will not start over on it.${moved} ${startOver(o.dataDir)}`,
    );
  }
  const left = leftovers(o.dataDir, o.location);
  if (left.length > 0 && o.init !== "init") {
    throw new InstallationError(
      `the data directory ${o.dataDir} holds Airlock's files (${left.join(", ")}), but ${gone}: ${o.what === "missing" ? RESTORE : "point AIRLOCK_DATABASE_URL at the database this installation uses, or restore it"}. To make a new database beside these files on purpose, run airlock serve --init (or airlock db init)`,
    );
  }
  if (o.init === "refuse") {
    throw new InstallationError(
      `no Airlock installation in ${o.dataDir}, and --no-init forbids making one: the data directory is not the one you meant (--data-dir, AIRLOCK_HOME), its volume is not mounted, or this is the first start (run airlock db init once)`,
    );
  }
}

/** A SQLite file of 0 bytes: whatever it held is gone, and SQLite would take it for a new one. */
export function emptyDatabase(file: string, dataDir: string): InstallationError {
  return new InstallationError(
    `the database ${file} is empty (0 bytes): ${RESTORE}. Airlock will not start over on it. ${startOver(dataDir)}`,
  );
}

/** A SQLite file that is not a database, or fails `PRAGMA quick_check`. */
export function damagedDatabase(file: string, why: string): InstallationError {
  const said = why.replace(/\s+/g, " ").trim().slice(0, 300);
  return new InstallationError(
    `the database ${file} is damaged (${said}): stop every Airlock process using it and ${RESTORE}; sqlite3's .recover may save what the backup lacks. Airlock will not write to it`,
  );
}
