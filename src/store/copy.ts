// Copies every record from one database to another (SQLite to PostgreSQL, or back): in one
// transaction on the target, which must be empty; rows counted and checksummed on both sides
// before the commit, so a copy that differs is never committed. Sealed secret values are copied as
// the bytes they are: the master key stays where it is.
import { createHash } from "node:crypto";
import { type Kysely, sql } from "kysely";
import type { OpenedStore } from "./open.js";
import type { Database } from "./schema.js";

/** Every table with its primary key, parents before children. */
const KEYS: Record<keyof Database, string[]> = {
  runs: ["id"],
  jobs: ["seq"],
  secret_keyring: ["id"],
  secret_keys: ["set_name", "key"],
  secret_values: ["set_name", "key", "version"],
  audit: ["seq"],
  events: ["seq"],
  event_payloads: ["seq"],
  outbox: ["seq"],
  check_run_ids: ["repo", "head_sha", "name"],
  pr_heads: ["repo", "pr"],
  approvals: ["id"],
  approval_waits: ["repo", "pr", "sha"],
  run_requests: ["id"],
  pr_labels: ["repo", "pr", "label"],
  admin_tokens: ["id"],
  console_sessions: ["id_hash"],
  login_links: ["hash"],
  oidc_keys: ["kid"],
  pauses: ["name"],
  job_slots: ["run_id", "job_id"],
};
export const TABLES = Object.keys(KEYS) as (keyof Database)[];

/** Columns the database numbers itself: the target's counters continue after the copied rows. */
const SERIAL: Partial<Record<keyof Database, string>> = {
  jobs: "seq",
  audit: "seq",
  events: "seq",
  outbox: "seq",
  approvals: "id",
  admin_tokens: "id",
};

export class CopyError extends Error {}

export interface TableCopy {
  table: string;
  rows: number;
  /** SHA-256 sum over the rows (order does not matter), the same on both sides. */
  checksum: string;
}

const MOD = 1n << 256n;

/** An order-independent checksum: the sum of each row's SHA-256 over its values in column order. */
class Checksum {
  private sum = 0n;
  rows = 0;

  add(row: Record<string, unknown>): void {
    const values = Object.keys(row)
      .sort()
      .map((k) => {
        const v = row[k];
        if (Buffer.isBuffer(v) || v instanceof Uint8Array) {
          return { b: Buffer.from(v).toString("base64") };
        }
        return v === undefined ? null : v;
      });
    const h = createHash("sha256").update(JSON.stringify(values)).digest("hex");
    this.sum = (this.sum + BigInt(`0x${h}`)) % MOD;
    this.rows++;
  }

  get hex(): string {
    return this.sum.toString(16).padStart(64, "0");
  }
}

async function* batches(db: Kysely<Database>, table: keyof Database, size: number) {
  // Pages by offset in key order, inside one transaction, so that no row is read twice or missed.
  for (let offset = 0; ; offset += size) {
    let q = db.selectFrom(table).selectAll();
    for (const k of KEYS[table]) q = q.orderBy(sql.ref(k));
    const rows = (await q.limit(size).offset(offset).execute()) as Record<string, unknown>[];
    if (rows.length > 0) yield rows;
    if (rows.length < size) return;
  }
}

export async function copyDatabase(
  from: OpenedStore,
  to: OpenedStore,
  o: { batch?: number; onTable?: (t: TableCopy) => void } = {},
): Promise<TableCopy[]> {
  const size = o.batch ?? 500;
  const nonEmpty: string[] = [];
  for (const t of TABLES) {
    const r = await to.db.selectFrom(t).select(sql<number>`count(*)`.as("n")).executeTakeFirst();
    if (Number(r?.n ?? 0) > 0) nonEmpty.push(t);
  }
  if (nonEmpty.length > 0) {
    throw new CopyError(
      `the target ${to.location} is not empty (${nonEmpty.join(", ")} hold rows): copy into a new, empty database`,
    );
  }
  // The source is read in one snapshot (SQLite: under its write lock; PostgreSQL: repeatable read).
  return from.db
    .transaction()
    .setIsolationLevel("repeatable read")
    .execute((src) =>
      to.db.transaction().execute(async (dst) => {
        const out: TableCopy[] = [];
        for (const table of TABLES) {
          const sent = new Checksum();
          for await (const rows of batches(src, table, size)) {
            for (const r of rows) sent.add(r);
            // Both engines bind at most some tens of thousands of values per statement.
            const per = Math.max(1, Math.floor(20_000 / Math.max(1, Object.keys(rows[0]!).length)));
            for (let i = 0; i < rows.length; i += per) {
              await dst
                .insertInto(table)
                .values(rows.slice(i, i + per) as never)
                .execute();
            }
          }
          const got = new Checksum();
          for await (const rows of batches(dst, table, size)) for (const r of rows) got.add(r);
          if (got.rows !== sent.rows || got.hex !== sent.hex) {
            throw new CopyError(
              `${table}: the target holds ${got.rows} rows (checksum ${got.hex.slice(0, 16)}) where the source has ${sent.rows} (${sent.hex.slice(0, 16)}); nothing was committed`,
            );
          }
          const serial = SERIAL[table];
          if (serial && to.engine === "postgres") {
            await sql`SELECT setval(pg_get_serial_sequence(${table}, ${serial}),
              (SELECT coalesce(max(${sql.ref(serial)}), 0) + 1 FROM ${sql.table(table)}), false)`.execute(
              dst,
            );
          }
          const copied = { table, rows: sent.rows, checksum: sent.hex };
          o.onTable?.(copied);
          out.push(copied);
        }
        return out;
      }),
    );
}
