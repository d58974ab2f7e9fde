// `airlock secrets …`: the secret sets, in the embedded store or in Vault. Values come from stdin
// or a hidden prompt, never from argv; `list` never shows values; `get` needs --reveal and is
// audited. Which backend holds a set is read from the project's .airlock.yml; without one, only
// the embedded store is known.
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { userInfo } from "node:os";
import path from "node:path";
import type { Readable, Writable } from "node:stream";
import type { Command } from "commander";
import { ConfigError, loadConfig } from "../../config/loader.js";
import type { Config } from "../../config/schema.js";
import { parseMasterKey } from "../../secrets/crypto.js";
import { parseDotenv } from "../../secrets/dotenv.js";
import { EmbeddedStore } from "../../secrets/embedded.js";
import { SecretsError } from "../../secrets/errors.js";
import { readKeyText, readSecretValue } from "../../secrets/input.js";
import {
  type RotationStatus,
  type VaultBackend,
  VaultConfigError,
  VaultError,
  vaultBackendFromConfig,
} from "../../secrets/vault/index.js";
import { resolveDataDir } from "../../store/datadir.js";
import { type OpenedDb, openDb } from "../../store/db.js";
import { UserError } from "../errors.js";

/** The command's surroundings; tests replace them. */
export interface CliIo {
  stdin: Readable & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  stdout: Writable & { isTTY?: boolean };
  stderr: Writable;
  env: NodeJS.ProcessEnv;
  openDb(dataDir: string): Promise<OpenedDb>;
}

export function defaultIo(io: Partial<CliIo> = {}): CliIo {
  return {
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    openDb,
    ...io,
  };
}

interface DirOptions {
  dir: string;
  dataDir?: string;
}

export function dataDirOf(opts: DirOptions, env: NodeJS.ProcessEnv): string {
  return opts.dataDir ? path.resolve(opts.dataDir) : resolveDataDir(path.resolve(opts.dir), env);
}

export function withDirOptions(cmd: Command): Command {
  return cmd
    .option("-C, --dir <dir>", "the project directory", ".")
    .option(
      "--data-dir <dir>",
      "the data directory (default: $AIRLOCK_HOME or <project>/.airlock)",
    );
}

export function cliActor(env: NodeJS.ProcessEnv): string {
  let name: string | undefined;
  try {
    name = userInfo().username;
  } catch {
    name = env.USER;
  }
  return `cli:${name || "unknown"}`;
}

/** Aligned columns, header first. */
export function formatTable(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows
    .map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join("  "))
    .join("\n")
    .concat("\n");
}

export const formatTime = (ms: number | null | undefined): string =>
  ms ? new Date(ms).toISOString().replace("T", " ").slice(0, 19) : "-";

/** Runs `fn` with the store open; store errors become one-line user errors. */
async function withStore<T>(
  io: CliIo,
  opts: DirOptions,
  fn: (store: EmbeddedStore, dataDir: string) => Promise<T>,
): Promise<T> {
  const dataDir = dataDirOf(opts, io.env);
  let opened: OpenedDb | undefined;
  try {
    opened = await io.openDb(dataDir);
    return await fn(new EmbeddedStore({ dataDir, sqlite: opened.sqlite, env: io.env }), dataDir);
  } catch (e) {
    if (e instanceof SecretsError) throw new UserError(e.message);
    throw e;
  } finally {
    await opened?.close();
  }
}

const ARGV_REFUSED =
  "a secret value on the command line would show in `ps` and shell history: pipe it on stdin (e.g. `airlock secrets set SET KEY < file`) or type it at the hidden prompt";

function parseKeep(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v))
    throw new UserError("--keep takes a whole number of versions, e.g. --keep 5");
  return Number(v);
}

interface PutOpts extends DirOptions {
  file?: boolean;
  keep?: string;
}

function registerPut(secrets: Command, io: CliIo, name: "set" | "rotate"): void {
  const rotate = name === "rotate";
  withDirOptions(
    secrets
      .command(name)
      .description(
        rotate
          ? "Rotate SET/KEY: store a new value (from stdin or a hidden prompt) and record the rotation"
          : "Store a new version of SET/KEY; the value comes from stdin or a hidden prompt, never argv",
      )
      .argument("<set>", "the secret set")
      .argument("<key>", "the key (an environment variable name)")
      // Only there to refuse a value given as an argument with a clear message.
      .argument("[value]")
      .option("--file", "deliver this key to jobs as a file on a private tmpfs")
      .option("--no-file", "deliver this key as an environment variable (the default)")
      .option("--keep <n>", "how many versions to keep (default 5, or the key's current setting)"),
  ).action(async (set: string, key: string, value: string | undefined, opts: PutOpts) => {
    if (value !== undefined) throw new UserError(ARGV_REFUSED);
    const keep = parseKeep(opts.keep);
    await withStore(io, opts, async (store) => {
      const v = await readSecretValue({ stdin: io.stdin, prompt: io.stderr }, `${set}/${key}`);
      const actor = cliActor(io.env);
      const put = { actor, file: opts.file, keep };
      const version = rotate
        ? await store.rotate(set, key, v, put)
        : await store.set(set, key, v, put);
      io.stdout.write(`${rotate ? "rotated" : "stored"} ${set}/${key}: version ${version}\n`);
    });
  });
}

export function registerSecrets(program: Command, partialIo: Partial<CliIo> = {}): void {
  const io = defaultIo(partialIo);
  const secrets = program
    .command("secrets")
    .description("Manage secret sets in the embedded encrypted store");

  registerPut(secrets, io, "set");
  registerPut(secrets, io, "rotate");

  withDirOptions(
    secrets
      .command("import")
      .description("Store every KEY=value of a dotenv file as a new version in SET, all or none")
      .argument("<set>", "the secret set")
      .requiredOption("--env-file <file>", "a dotenv file: KEY=value lines, quotes, # comments")
      .option("--keep <n>", "how many versions to keep"),
  ).action(async (set: string, opts: DirOptions & { envFile: string; keep?: string }) => {
    const keep = parseKeep(opts.keep);
    let text: string;
    try {
      text = await readFile(opts.envFile, "utf8");
    } catch (e) {
      throw new UserError(`cannot read ${opts.envFile}: ${(e as NodeJS.ErrnoException).code ?? e}`);
    }
    await withStore(io, opts, async (store) => {
      const entries = parseDotenv(text, opts.envFile);
      const empty = entries.find((e) => e.value === "");
      if (empty) {
        throw new SecretsError(
          `${opts.envFile}:${empty.line}: ${empty.key} has an empty value; remove the line or give it a value`,
        );
      }
      const versions = await store.import(set, entries, { actor: cliActor(io.env), keep });
      const list = Object.entries(versions).map(([k, v]) => `${k} (version ${v})`);
      io.stdout.write(`imported ${list.length} keys into ${set}: ${list.join(", ")}\n`);
    });
  });

  withDirOptions(
    secrets
      .command("list")
      .description("List sets and keys with their versions and times (never values)")
      .argument("[set]", "only this set")
      .option("--json", "print JSON"),
  ).action(async (set: string | undefined, opts: DirOptions & { json?: boolean }) => {
    await withStore(io, opts, async (store, dataDir) => {
      const keys = await store.list(set);
      if (opts.json) {
        io.stdout.write(`${JSON.stringify(keys, null, 2)}\n`);
        return;
      }
      if (keys.length === 0) {
        io.stdout.write(
          set ? `no secret set "${set}" in ${dataDir}\n` : `no secrets stored in ${dataDir}\n`,
        );
        return;
      }
      const rows = [["SET", "KEY", "VERSION", "KEPT", "AS", "UPDATED", "ROTATED"]];
      for (const k of keys) {
        rows.push([
          k.set,
          k.key,
          String(k.version),
          k.versions.join(","),
          k.file ? "file" : "env",
          formatTime(k.updatedAt),
          formatTime(k.rotatedAt),
        ]);
      }
      io.stdout.write(formatTable(rows));
    });
  });

  withDirOptions(
    secrets
      .command("get")
      .description("Print one value; needs --reveal, and the reveal is recorded in the audit log")
      .argument("<set>", "the secret set")
      .argument("<key>", "the key")
      .option("--reveal", "really print the value")
      // Not --version: the program's own --version would answer instead.
      .option("--at-version <n>", "a kept version other than the current one"),
  ).action(
    async (
      set: string,
      key: string,
      opts: DirOptions & { reveal?: boolean; atVersion?: string },
    ) => {
      if (!opts.reveal) {
        throw new UserError(
          `refusing to print ${set}/${key} without --reveal (a reveal is recorded in the audit log); \`airlock secrets list\` shows names and versions`,
        );
      }
      if (opts.atVersion !== undefined && !/^\d+$/.test(opts.atVersion)) {
        throw new UserError("--at-version takes a version number, as `airlock secrets list` shows");
      }
      await withStore(io, opts, async (store) => {
        const { value } = await store.reveal(set, key, {
          actor: cliActor(io.env),
          version: opts.atVersion === undefined ? undefined : Number(opts.atVersion),
        });
        io.stdout.write(io.stdout.isTTY ? `${value}\n` : value);
      });
    },
  );

  withDirOptions(
    secrets
      .command("rollback")
      .description(
        "Make the previous kept version of SET/KEY current again (the current one is discarded)",
      )
      .argument("<set>", "the secret set")
      .argument("<key>", "the key"),
  ).action(async (set: string, key: string, opts: DirOptions) => {
    await withStore(io, opts, async (store) => {
      const r = await store.rollback(set, key, cliActor(io.env));
      io.stdout.write(`rolled back ${set}/${key}: version ${r.from} -> ${r.to}\n`);
    });
  });

  withDirOptions(
    secrets
      .command("delete")
      .description("Delete KEY with all its versions, or the whole SET")
      .argument("<set>", "the secret set")
      .argument("[key]", "only this key"),
  ).action(async (set: string, key: string | undefined, opts: DirOptions) => {
    await withStore(io, opts, async (store) => {
      const n = await store.delete(set, key, cliActor(io.env));
      io.stdout.write(
        key ? `deleted ${set}/${key}\n` : `deleted set ${set} (${n} key${n === 1 ? "" : "s"})\n`,
      );
    });
  });

  withDirOptions(
    secrets
      .command("rekey")
      .description(
        "Wrap the store's data key under a new master key (generated into master.key, or given on stdin)",
      )
      .option("--new-key-stdin", "read the new master key (hex or base64, 32 bytes) from stdin")
      .option("--data-key", "also replace the data key and re-encrypt every value"),
  ).action(async (opts: DirOptions & { newKeyStdin?: boolean; dataKey?: boolean }) => {
    await withStore(io, opts, async (store) => {
      const newKey = opts.newKeyStdin
        ? parseMasterKey(
            await readKeyText({ stdin: io.stdin, prompt: io.stderr }),
            "the new key on stdin",
          )
        : undefined;
      const r = await store.rekey({ actor: cliActor(io.env), newKey, dataKey: opts.dataKey });
      io.stdout.write(
        `rekeyed: master key ${r.oldMasterId} -> ${r.newMasterId}${r.dataKeyReplaced ? `; new data key, ${r.valuesResealed} values re-encrypted` : ""}\n`,
      );
      io.stdout.write(
        r.keyFile
          ? `the new key is in ${r.keyFile}: back it up now and destroy copies of the old one\n`
          : "set AIRLOCK_MASTER_KEY to the new key before Airlock next starts\n",
      );
    });
  });
}
