// The database: which one (the data directory's SQLite file, or the PostgreSQL that the serve
// config or AIRLOCK_DATABASE_URL names), that it answers and with which version, that its schema
// is this Airlock's, that it takes writes, and that a remote PostgreSQL is reached over TLS.
import { existsSync } from "node:fs";
import { loadServeConfig, ServeConfigError } from "../../gateway/serve-config.js";
import { sqliteFileOf } from "../../store/engines/sqlite.js";
import { type DatabaseOptions, type OpenedStore, openStore } from "../../store/index.js";
import { readInstallation } from "../../store/installation.js";
import { DatabaseSettingsError, resolveDatabase } from "../../store/settings.js";
import { type DoctorCheck, fail, ok, reason, warn } from "./types.js";

const SUBJECT = "database";

/** The database settings `airlock serve` would use (the serve config's, else the environment's). */
function settingsOf(o: {
  env: NodeJS.ProcessEnv;
  serveConfig?: string | undefined;
}): DatabaseOptions | undefined {
  if (o.serveConfig) {
    try {
      return loadServeConfig({ file: o.serveConfig, env: o.env }).database;
    } catch (e) {
      // The serve check reports a broken serve config; its database may still be named by env.
      if (!(e instanceof ServeConfigError)) throw e;
    }
  }
  return resolveDatabase({ env: o.env });
}

/** Opens the database to look at it (no migration, no new file); undefined when there is none. */
export async function openForDoctor(o: {
  dataDir: string;
  env: NodeJS.ProcessEnv;
  serveConfig?: string | undefined;
}): Promise<{ db: OpenedStore | undefined; checks: DoctorCheck[] }> {
  let database: DatabaseOptions | undefined;
  try {
    database = settingsOf(o);
  } catch (e) {
    if (e instanceof DatabaseSettingsError)
      return { db: undefined, checks: [fail(SUBJECT, e.message)] };
    throw e;
  }
  if (!database && !existsSync(sqliteFileOf(o.dataDir))) {
    const made = readInstallation(o.dataDir);
    if (made) {
      return {
        db: undefined,
        checks: [
          fail(
            SUBJECT,
            `the installation made ${made.createdAt} has no database: restore ${sqliteFileOf(o.dataDir)} from a backup (docs/operations.md, Backups); airlock serve refuses to start without it`,
          ),
        ],
      };
    }
    return {
      db: undefined,
      checks: [
        ok(
          SUBJECT,
          "no database yet: the first `airlock run` or `airlock secrets set` makes it, or the first `airlock serve` on a server",
        ),
      ],
    };
  }
  let db: OpenedStore;
  try {
    db = await openStore({ dataDir: o.dataDir, database, migrate: false, verify: true });
  } catch (e) {
    return {
      db: undefined,
      checks: [
        fail(
          SUBJECT,
          `${reason(e)}; check the server, its address and credentials, or restore the file from a backup`,
        ),
      ],
    };
  }
  return { db, checks: await checkDatabase(db, database) };
}

const LOOPBACK = /^(localhost|127\.\d+\.\d+\.\d+|::1|\[::1\]|\/.*)$/;

async function checkDatabase(
  db: OpenedStore,
  settings: DatabaseOptions | undefined,
): Promise<DoctorCheck[]> {
  const out: DoctorCheck[] = [];
  out.push(ok(SUBJECT, `${db.location} answers: ${await db.version()}`));
  const schema = await db.schema();
  if (schema.unknown.length) {
    out.push(
      fail(
        SUBJECT,
        `the database was migrated by a newer Airlock (migrations ${schema.unknown.join(", ")}): install that version again, or restore the backup taken before the upgrade`,
      ),
    );
    return out;
  }
  if (schema.pending.length) {
    out.push(
      warn(
        SUBJECT,
        `${schema.pending.length} migration${schema.pending.length === 1 ? "" : "s"} to apply (${schema.pending.join(", ")}): back up the database (docs/operations.md, Backups), then run \`airlock db migrate\` or start airlock serve`,
      ),
    );
  } else {
    out.push(ok(SUBJECT, `schema up to date (${schema.applied.length} migrations)`));
  }
  // A write that is rolled back: a read-only user or a standby fails here, not at the first event.
  const probe = new Error("probe");
  try {
    await db.transaction(async (tx) => {
      await tx.sessions.createLink(1);
      throw probe;
    });
  } catch (e) {
    if (e !== probe) {
      out.push(fail(SUBJECT, `the database refuses writes: ${reason(e)}`));
    }
  }
  if (db.engine === "postgres" && settings?.url) {
    const host = new URL(settings.url).hostname;
    const tls =
      settings.tls?.mode ?? new URL(settings.url).searchParams.get("sslmode") ?? "disable";
    if (tls === "disable" && !LOOPBACK.test(decodeURIComponent(host))) {
      out.push(
        warn(
          SUBJECT,
          `${host} is reached without TLS: add ?sslmode=verify-full to the URL (with database.tls.ca_file or AIRLOCK_DATABASE_CA_FILE for a private CA)`,
        ),
      );
    }
  }
  return out;
}
