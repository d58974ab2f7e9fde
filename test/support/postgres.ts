// Real PostgreSQL for tests: a throwaway cluster under a temporary directory, started from Debian's
// binaries (/usr/lib/postgresql/*/bin) once per test process, or once for a whole `npm test` by
// run-tests.ts (which hands it to every test file as AIRLOCK_TEST_POSTGRES_URL), each test on a
// database of its own.
// As root the cluster runs as the `postgres` account (PostgreSQL refuses root). The server is
// watched by a shell that stops it and removes its directory when this process ends, however it
// ends. AIRLOCK_TEST_POSTGRES_URL points the tests at a server of your own instead (a URL with a
// user that may create databases; its password in AIRLOCK_TEST_POSTGRES_PASSWORD).
//
// Without PostgreSQL, tests run on SQLite only, unless CI is set: there PostgreSQL is mandatory.
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chownSync, existsSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";

export interface PgServer {
  /** postgres:// URL of a database (no password in it). */
  url(database: string): string;
  password: string;
  /** A new empty database; its URL. */
  createDatabase(): Promise<string>;
}

function binDir(): string | undefined {
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(path.join(root, v, "bin", "initdb")))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? path.join(root, versions[0], "bin") : undefined;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

const uidOf = (user: string) => {
  const r = spawnSync("id", ["-u", user], { encoding: "utf8" });
  return r.status === 0 ? Number(r.stdout.trim()) : undefined;
};

async function startCluster(
  bin: string,
  o: { durable: boolean; maxConnections: number },
): Promise<PgServer> {
  const dir = mkdtempSync(path.join(tmpdir(), "airlock-pg-"));
  const password = randomBytes(18).toString("base64url");
  const pwfile = path.join(dir, "pw");
  writeFileSync(pwfile, password, { mode: 0o600 });
  // PostgreSQL refuses to run as root: as root, the cluster belongs to an unprivileged account.
  let asUser: string[] = [];
  if (process.getuid?.() === 0) {
    const user = uidOf("postgres") !== undefined ? "postgres" : "nobody";
    const uid = uidOf(user)!;
    chownSync(dir, uid, -1);
    chownSync(pwfile, uid, -1);
    asUser = ["runuser", "-u", user, "--"];
  }
  const data = path.join(dir, "data");
  const init = spawnSync(
    asUser[0] ?? path.join(bin, "initdb"),
    [
      ...asUser.slice(1),
      ...(asUser.length ? [path.join(bin, "initdb")] : []),
      "-D",
      data,
      "-U",
      "airlock",
      "--auth=scram-sha-256",
      `--pwfile=${pwfile}`,
      "-E",
      "UTF8",
      "--no-locale",
      "--no-sync",
    ],
    { encoding: "utf8" },
  );
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr || init.stdout}`);

  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const settings = [
      ["listen_addresses", "127.0.0.1"],
      ["port", String(port)],
      ["unix_socket_directories", dir],
      ["max_connections", String(o.maxConnections)],
      ["shared_buffers", "16MB"],
      // Throwaway data: durability settings only where a measurement needs them.
      ...(o.durable
        ? []
        : [
            ["fsync", "off"],
            ["synchronous_commit", "off"],
            ["full_page_writes", "off"],
          ]),
    ].flatMap(([k, v]) => ["-c", `${k}=${v}`]);
    const postgres = [...asUser, path.join(bin, "postgres"), "-D", data, ...settings]
      .map((a) => `'${a.replace(/'/g, `'\\''`)}'`)
      .join(" ");
    // The shell outlives nothing: when this process ends, its stdin closes, `read` returns, and the
    // server is stopped and its directory removed.
    const child = spawn(
      "sh",
      [
        "-c",
        // runuser does not pass SIGINT on: the postmaster is signalled by its pid file.
        `${postgres} & pid=$!; read _ignored; kill -INT "$(head -n1 '${data}/postmaster.pid')" 2>/dev/null; wait $pid; rm -rf '${dir}'`,
      ],
      { stdio: ["pipe", "ignore", "pipe"] },
    );
    const ready = await new Promise<boolean>((resolve) => {
      let log = "";
      child.stderr!.on("data", (b: Buffer) => {
        log += b.toString();
        if (log.includes("ready to accept connections")) resolve(true);
        if (/could not bind|could not create listen socket/.test(log)) resolve(false);
      });
      child.on("exit", () => resolve(false));
    });
    if (!ready) {
      child.stdin!.end();
      if (attempt < 3) continue;
      throw new Error("the test PostgreSQL server did not start");
    }
    child.unref();
    (child.stdin as unknown as { unref(): void }).unref();
    (child.stderr as unknown as { unref(): void }).unref();
    child.stderr!.resume();
    const url = (db: string) => `postgres://airlock@127.0.0.1:${port}/${db}`;
    return serverAt(url, password);
  }
}

function serverAt(url: (db: string) => string, password: string): PgServer {
  let admin: pg.Client | undefined;
  return {
    url,
    password,
    async createDatabase() {
      if (!admin) {
        const u = new URL(url("postgres"));
        admin = new pg.Client({
          host: u.hostname,
          port: Number(u.port || 5432),
          user: decodeURIComponent(u.username),
          database: decodeURIComponent(u.pathname.slice(1)),
          password,
        });
        await admin.connect();
      }
      // Kept open for the process's life, holding it up only while a statement runs.
      const stream = (
        admin as unknown as { connection: { stream: { ref(): void; unref(): void } } }
      ).connection.stream;
      const name = `airlock_test_${randomBytes(6).toString("hex")}`;
      stream.ref();
      try {
        await admin.query(`CREATE DATABASE ${name}`);
      } finally {
        stream.unref();
      }
      return url(name);
    },
  };
}

let started: Promise<PgServer | undefined> | undefined;
let durableStarted: Promise<PgServer | undefined> | undefined;

/**
 * The test PostgreSQL server, started on first use; undefined when this machine has none and CI is
 * not set. `durable`: a separate cluster with PostgreSQL's default fsync and commit settings.
 */
export function postgres(o: { durable?: boolean } = {}): Promise<PgServer | undefined> {
  if (!o.durable && started) return started;
  if (o.durable && durableStarted) return durableStarted;
  const p = (async () => {
    const own = process.env.AIRLOCK_TEST_POSTGRES_URL;
    if (own) {
      const base = new URL(own);
      return serverAt((db) => {
        const u = new URL(base);
        u.pathname = `/${db}`;
        return u.toString();
      }, process.env.AIRLOCK_TEST_POSTGRES_PASSWORD ?? "");
    }
    const bin = binDir();
    if (!bin) {
      if (process.env.CI) {
        throw new Error(
          "PostgreSQL is required on CI: install Debian's postgresql package (.ci/run does), or set AIRLOCK_TEST_POSTGRES_URL",
        );
      }
      return undefined;
    }
    return startCluster(bin, { durable: o.durable ?? false, maxConnections: 60 });
  })();
  if (o.durable) durableStarted = p;
  else started = p;
  return p;
}

/**
 * A cluster for a whole test run (test/support/run-tests.ts): the test files, two or more at
 * once, each open their stores' pools on it. Undefined as `postgres()` is.
 */
export async function sharedPostgres(): Promise<{ url: string; password: string } | undefined> {
  if (process.env.AIRLOCK_TEST_POSTGRES_URL) return undefined;
  const bin = binDir();
  if (!bin) return undefined;
  const server = await startCluster(bin, { durable: false, maxConnections: 300 });
  return { url: server.url("postgres"), password: server.password };
}
