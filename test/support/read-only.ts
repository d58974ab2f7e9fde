// Makes a real database refuse every write and take them again: SQLite as a read-only data
// directory would (`PRAGMA query_only` on the store's one connection), PostgreSQL as a failover to
// a standby would (the database's sessions turn read-only, and the connections the store holds are
// cut, so that its pool opens read-only ones).
import { sql } from "kysely";
import pg from "pg";
import type { DatabaseOptions, OpenedStore } from "../../src/store/index.js";

export async function setReadOnly(
  store: OpenedStore,
  database: DatabaseOptions | undefined,
  on: boolean,
): Promise<void> {
  if (store.engine === "sqlite") {
    await sql.raw(`PRAGMA query_only = ${on ? "ON" : "OFF"}`).execute(store.db);
    return;
  }
  // Another database on the same server: the store's own turns read-only for new sessions.
  const u = new URL(database!.url!);
  const name = decodeURIComponent(u.pathname.slice(1));
  const admin = new pg.Client({
    host: u.hostname,
    port: Number(u.port || 5432),
    user: decodeURIComponent(u.username),
    database: "postgres",
    password: database!.password,
  });
  await admin.connect();
  try {
    await admin.query(
      `ALTER DATABASE "${name}" SET default_transaction_read_only = ${on ? "on" : "off"}`,
    );
    await admin.query(
      "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE datname = $1",
      [name],
    );
  } finally {
    await admin.end();
  }
}
