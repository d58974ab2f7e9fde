// `airlock db status|migrate|copy`: where Airlock's state lives, bringing its schema up to date,
// and moving an installation from SQLite to PostgreSQL (or back) without losing a record.
import type { Command } from "commander";
import { CopyError, copyDatabase } from "../../store/copy.js";
import { readInstallation } from "../../store/installation.js";
import { openStore } from "../../store/open.js";
import { DATABASE_ENV, resolveDatabase } from "../../store/settings.js";
import { UserError } from "../errors.js";
import { type OpenedStore, storeError, withStore } from "../open-store.js";
import { type CliIo, dataDirOf, defaultIo, formatTable, withDirOptions } from "./common.js";
import { loadConfig } from "./serve.js";

/**
 * `--from`/`--to`: sqlite:PATH or postgres://…, the password from the environment or a file. The
 * source must exist; both are brought to this Airlock's schema.
 */
async function openSide(
  url: string,
  env: NodeJS.ProcessEnv,
  source: boolean,
): Promise<OpenedStore> {
  if (!/^(sqlite:|postgres(ql)?:\/\/)/.test(url)) {
    throw new UserError(
      `"${url.slice(0, 60)}" is no database: write sqlite:PATH or postgres://USER@HOST/DB`,
    );
  }
  let store: OpenedStore | undefined;
  try {
    const database = resolveDatabase({ env: { ...env, [DATABASE_ENV.url]: url } });
    store = await openStore({ dataDir: ".", database, migrate: !source, init: "ignore" });
    if (source) await store.migrate();
    return store;
  } catch (e) {
    await store?.close();
    throw storeError(e);
  }
}

export function registerDb(program: Command, io0: Partial<CliIo> = {}): void {
  const db = program
    .command("db")
    .description(
      `the database Airlock's state lives in: the data directory's SQLite file, or PostgreSQL named by ${DATABASE_ENV.url}`,
    );

  withDirOptions(db.command("status").description("where the state lives, its version and schema"))
    .option("--json", "print JSON")
    .action(async (opts: { dir: string; dataDir?: string; json?: boolean }) => {
      const io = defaultIo(io0);
      await withStore(
        { dataDir: dataDirOf(opts, io.env), env: io.env, migrate: false },
        async (s) => {
          const schema = await s.schema();
          const out = {
            engine: s.engine,
            location: s.location,
            version: await s.version(),
            ...schema,
          };
          if (opts.json) {
            io.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
            return;
          }
          io.stdout.write(
            `${s.location} (${out.version})\n${schema.applied.length} migrations applied, ${schema.pending.length} pending${schema.unknown.length ? `, ${schema.unknown.length} from a newer Airlock: ${schema.unknown.join(", ")}` : ""}\n`,
          );
        },
      );
    });

  withDirOptions(
    db
      .command("init")
      .description(
        "make a new installation: the database and the data directory's record of it (once; airlock serve refuses to start without one)",
      ),
  )
    .option(
      "-c, --config <file>",
      "serve config (YAML or JSON), for its database and data directory",
    )
    .action(async (opts: { dir: string; dataDir?: string; config?: string }) => {
      const io = defaultIo(io0);
      const config = loadConfig(opts, io.env);
      const before = readInstallation(config.dataDir);
      await withStore(
        {
          dataDir: config.dataDir,
          env: io.env,
          database: config.database,
          init: "init",
          verify: true,
        },
        async (s) => {
          io.stdout.write(
            before
              ? `${config.dataDir}: the installation made ${before.createdAt} is there already (${s.location}); nothing to do\n`
              : `${config.dataDir}: installation ready, database ${s.location}\n`,
          );
        },
      );
    });

  withDirOptions(
    db
      .command("migrate")
      .description("apply the migrations this Airlock has and the database has not (forward only)"),
  ).action(async (opts: { dir: string; dataDir?: string }) => {
    const io = defaultIo(io0);
    const dataDir = dataDirOf(opts, io.env);
    // Opened without migrating, so that what is applied here can be reported.
    await withStore({ dataDir, env: io.env, migrate: false }, async (s) => {
      let applied: string[];
      try {
        applied = await s.migrate();
      } catch (e) {
        throw storeError(e);
      }
      io.stdout.write(
        applied.length
          ? `${s.location}: applied ${applied.join(", ")}\n`
          : `${s.location}: up to date\n`,
      );
    });
  });

  db.command("copy")
    .description(
      "copy every record to an empty database, in one transaction, verified by counts and checksums; sealed secrets are copied as they are (the master key stays where it is). Stop airlock serve first.",
    )
    .requiredOption(
      "--from <db>",
      "sqlite:PATH (e.g. sqlite:.airlock/airlock.db) or postgres://USER@HOST:PORT/DB",
    )
    .requiredOption("--to <db>", "postgres://USER@HOST:PORT/DB or sqlite:PATH, empty")
    .option("--json", "print JSON")
    .addHelpText(
      "after",
      `\nThe PostgreSQL password comes from ${DATABASE_ENV.password} or ${DATABASE_ENV.passwordFile}, never from the URL.\n`,
    )
    .action(async (opts: { from: string; to: string; json?: boolean }) => {
      const io = defaultIo(io0);
      if (opts.from === opts.to) throw new UserError("--from and --to name the same database");
      const from = await openSide(opts.from, io.env, true);
      let to: OpenedStore | undefined;
      try {
        to = await openSide(opts.to, io.env, false);
        const tables = await copyDatabase(from, to).catch((e) => {
          throw e instanceof CopyError ? new UserError(e.message) : e;
        });
        if (opts.json) {
          io.stdout.write(
            `${JSON.stringify({ from: from.location, to: to.location, tables }, null, 2)}\n`,
          );
          return;
        }
        io.stdout.write(
          `${formatTable([
            ["TABLE", "ROWS", "CHECKSUM"],
            ...tables.map((t) => [t.table, String(t.rows), t.checksum.slice(0, 16)]),
          ])}\n`,
        );
        const total = tables.reduce((n, t) => n + t.rows, 0);
        io.stdout.write(
          `copied ${total} rows from ${from.location} to ${to.location}; counts and checksums match\n`,
        );
      } finally {
        await from.close();
        await to?.close();
      }
    });
}
