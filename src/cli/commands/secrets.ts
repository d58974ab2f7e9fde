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
import { EmbeddedStore, type StoredKeyInfo } from "../../secrets/embedded.js";
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
import type { OpenedStore } from "../../store/index.js";
import { UserError } from "../errors.js";
import { openStoreFor } from "../open-store.js";
import { projectDirOf } from "../project-dir.js";

/** The command's surroundings; tests replace them. */
export interface CliIo {
  stdin: Readable & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  stdout: Writable & { isTTY?: boolean };
  stderr: Writable;
  env: NodeJS.ProcessEnv;
  /** The store of a data directory, or the database the environment names. */
  openStore(dataDir: string): Promise<OpenedStore>;
}

export function defaultIo(io: Partial<CliIo> = {}): CliIo {
  const env = io.env ?? process.env;
  return {
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    env,
    openStore: (dataDir) => openStoreFor({ dataDir, env }),
    ...io,
  };
}

interface DirOptions {
  dir: string;
  dataDir?: string;
}

export function dataDirOf(opts: DirOptions, env: NodeJS.ProcessEnv): string {
  return opts.dataDir ? path.resolve(opts.dataDir) : resolveDataDir(projectDirOf(opts.dir), env);
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

const CONFIG_FILE = ".airlock.yml";

type BackendKind = Config["secrets"][string]["backend"];

/** Keys as `list` shows them: the embedded store's, or a Vault set's with its path and reminder. */
interface ListedKey extends StoredKeyInfo {
  backend: BackendKind;
  /** Vault: the API path the values are read from. */
  path?: string;
  rotation?: Omit<RotationStatus, "set">;
}

/** What a secrets command works with: the data directory's store and the project's pipeline. */
class SecretsContext {
  private vaultBackend: VaultBackend | undefined;

  constructor(
    readonly io: CliIo,
    readonly store: EmbeddedStore,
    readonly dataDir: string,
    readonly projectDir: string,
    /** The project's .airlock.yml, when it has one: it says which backend holds each set. */
    readonly config: Config | undefined,
  ) {}

  get actor(): string {
    return cliActor(this.io.env);
  }

  backendOf(set: string): BackendKind | undefined {
    return this.config?.secrets[set]?.backend;
  }

  vaultSetNames(): string[] {
    return Object.entries(this.config?.secrets ?? {})
      .filter(([, s]) => s.backend === "vault")
      .map(([name]) => name)
      .sort();
  }

  /** Connected from Airlock's environment (VAULT_ADDR, VAULT_TOKEN, …) on first use. */
  vault(): VaultBackend {
    this.vaultBackend ??= vaultBackendFromConfig(this.config?.secrets ?? {}, this.io.env);
    return this.vaultBackend;
  }

  hasVaultConnection(): boolean {
    return this.vaultBackend !== undefined;
  }

  /** For "no such set" errors: without a pipeline, Vault sets cannot be known here. */
  get searchedOnlyStore(): string {
    return this.config
      ? ""
      : `; there is no ${CONFIG_FILE} in ${this.projectDir}, so only the embedded store was searched: for a set in Vault, run this in the project directory or pass -C <project>`;
  }

  /** Says where a write into the embedded store goes when the pipeline does not vouch for it. */
  async noteEmbeddedWrite(set: string): Promise<void> {
    if (!this.config) {
      if ((await this.store.list(set)).length === 0) {
        this.io.stderr.write(
          `airlock: no ${CONFIG_FILE} in ${this.projectDir}: "${set}" goes to the embedded store (a Vault set is known only from the project's ${CONFIG_FILE}: pass -C <project>)\n`,
        );
      }
    } else if (!this.config.secrets[set]) {
      this.io.stderr.write(
        `airlock: note: "${set}" is not declared under \`secrets:\` in ${CONFIG_FILE}; jobs receive it only once it is\n`,
      );
    }
  }

  /** Rollback, delete and import change the embedded store only; say where else to do it. */
  refuseOutsideStore(set: string, what: "rollback" | "delete" | "import"): void {
    const kind = this.backendOf(set);
    if (kind === "env") {
      throw new UserError(
        `secret set "${set}" takes its values from Airlock's environment (backend: env): there is nothing stored to ${what}`,
      );
    }
    if (kind !== "vault") return;
    const where = this.config?.secrets[set]?.vault?.path ?? "Vault";
    const how = {
      rollback: `do it in Vault (\`vault kv rollback -version=N ...\`), or store the old value as a new version with \`airlock secrets rotate ${set} KEY\``,
      delete: `delete it in Vault itself (\`vault kv metadata delete ...\`) and remove the set from ${CONFIG_FILE}`,
      import: `write each key with \`airlock secrets set ${set} KEY\`, or several at once with \`vault kv patch\``,
    }[what];
    throw new UserError(`secret set "${set}" lives in Vault (${where}): ${how}`);
  }
}

function loadProjectConfig(dir: string): Config | undefined {
  const file = path.join(dir, CONFIG_FILE);
  if (!existsSync(file)) return undefined;
  try {
    return loadConfig(file);
  } catch (e) {
    if (e instanceof ConfigError) throw new UserError(e.message);
    throw e;
  }
}

/** Runs `fn` with the store open; store and Vault errors become one-line user errors. */
async function withSecrets<T>(
  io: CliIo,
  opts: DirOptions,
  fn: (ctx: SecretsContext) => Promise<T>,
): Promise<T> {
  const projectDir = path.resolve(opts.dir);
  const config = loadProjectConfig(projectDir);
  const dataDir = dataDirOf(opts, io.env);
  let opened: OpenedStore | undefined;
  let ctx: SecretsContext | undefined;
  try {
    opened = await io.openStore(dataDir);
    const store = new EmbeddedStore({ dataDir, store: opened, env: io.env });
    ctx = new SecretsContext(io, store, dataDir, projectDir, config);
    return await fn(ctx);
  } catch (e) {
    if (e instanceof SecretsError) {
      const unknown = /no secret set/.test(e.message);
      throw new UserError(`${e.message}${unknown && ctx ? ctx.searchedOnlyStore : ""}`);
    }
    // Vault's errors are already scrubbed of tokens and values, and say what to check.
    if (e instanceof VaultError || e instanceof VaultConfigError) throw new UserError(e.message);
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

function stringValue(v: unknown): string {
  if (typeof v === "string") return v;
  if (v === undefined || v === null) return "";
  return typeof v === "object" ? JSON.stringify(v) : String(v);
}

/**
 * `set`/`rotate` of a Vault set: a new KV version with KEY replaced and the other keys kept
 * (check-and-set on KV v2). The secret's shape — which keys exist — is changed in Vault itself.
 */
async function vaultPut(ctx: SecretsContext, set: string, key: string, rotate: boolean) {
  const { io } = ctx;
  const vault = ctx.vault();
  const kv = await vault.resolve(set);
  // At a hidden prompt, say that the key does not exist before the value is typed, not after.
  if (io.stdin.isTTY) {
    const keys = (await vault.list(set)).map((k) => k.key);
    if (!keys.includes(key)) {
      throw new UserError(
        `set "${set}" has no key ${key} at ${kv.readPath} (it has: ${keys.join(", ")}); add new keys in Vault itself`,
      );
    }
  }
  const value = await readSecretValue({ stdin: io.stdin, prompt: io.stderr }, `${set}/${key}`);
  const { version } = await vault.rotate(set, key, value);
  // Vault and the audit log cannot share a transaction: the entry follows the write.
  await ctx.store.audit.record({
    action: rotate ? "rotate" : "set",
    actor: ctx.actor,
    set,
    key,
    versions: { [key]: version ?? "kv1" },
    detail: `vault ${kv.readPath}`,
  });
  io.stdout.write(
    `${rotate ? "rotated" : "stored"} ${set}/${key} in Vault at ${kv.readPath}: ${version === null ? "written (KV version 1 keeps no versions)" : `version ${version}`}\n`,
  );
}

/** One value of a Vault set for `get --reveal`, audited before it is returned. */
async function vaultReveal(
  ctx: SecretsContext,
  set: string,
  key: string,
  at: number | undefined,
): Promise<string> {
  const vault = ctx.vault();
  const cfg = vault.setConfig(set);
  const kv = await vault.resolve(set);
  const vaultKey = cfg.keys ? cfg.keys[key] : key;
  if (!vaultKey) {
    throw new UserError(
      `"${key}" is not a variable of set "${set}": its \`keys:\` map ${Object.keys(cfg.keys ?? {}).join(", ")}`,
    );
  }
  let data: Record<string, unknown> | null;
  let version: number | string;
  if (kv.kvVersion === 1) {
    if (at !== undefined) {
      throw new UserError(
        `${kv.readPath} is on a KV version 1 mount, which keeps no versions: drop --at-version`,
      );
    }
    data = await vault.withLogin(set, (c) => c.kv1Read(kv.mount, kv.path));
    version = "kv1";
  } else {
    const r = await vault.withLogin(set, (c) => c.kv2Read(kv.mount, kv.path, at));
    data = r?.data ?? null;
    version = r?.metadata.version ?? at ?? 0;
  }
  if (!data) {
    throw new UserError(
      at === undefined
        ? `nothing at ${kv.readPath} (or its latest version is deleted): check \`path\` in the \`vault:\` block of set "${set}"`
        : `${kv.readPath} has no live version ${at} (deleted or destroyed); \`airlock secrets list ${set}\` shows the live ones`,
    );
  }
  if (!(vaultKey in data)) {
    throw new UserError(
      `${kv.readPath} has no key "${vaultKey}"; it has: ${Object.keys(data).join(", ") || "no keys"}`,
    );
  }
  const value = stringValue(data[vaultKey]);
  await ctx.store.audit.record({
    action: "reveal",
    actor: ctx.actor,
    set,
    key,
    versions: { [key]: version },
    detail: `vault ${kv.readPath}`,
  });
  return value;
}

/** The keys of the Vault sets, with rotation reminders; sets that cannot be listed are named. */
async function listVault(
  ctx: SecretsContext,
  sets: string[],
): Promise<{ keys: ListedKey[]; reminders: RotationStatus[]; problems: string[] }> {
  const keys: ListedKey[] = [];
  const reminders: RotationStatus[] = [];
  const problems: string[] = [];
  for (const [i, set] of sets.entries()) {
    try {
      const vault = ctx.vault();
      const kv = await vault.resolve(set);
      const listed = await vault.list(set);
      const status = await vault.rotationStatus(set);
      if (status) reminders.push(status);
      const rotation = status && {
        every: status.every,
        due: status.due,
        dueAt: status.dueAt,
        ageMs: status.ageMs,
        message: status.message,
      };
      for (const k of listed) {
        keys.push({
          ...k,
          set,
          backend: "vault",
          path: kv.readPath,
          ...(rotation && { rotation }),
        });
      }
    } catch (e) {
      if (!(e instanceof VaultError || e instanceof VaultConfigError)) throw e;
      // Vault itself unreachable, or not configured: the other sets would only wait for the same.
      if ((e instanceof VaultError && e.kind !== "http") || !ctx.hasVaultConnection()) {
        problems.push(`${sets.slice(i).join(", ")} (vault): ${e.message}`);
        break;
      }
      problems.push(`${set} (vault): ${e.message}`);
    }
  }
  return { keys, reminders, problems };
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
          ? "Rotate SET/KEY: store a new value (from stdin or a hidden prompt) and record the rotation; a Vault set gets a new KV version"
          : "Store a new version of SET/KEY (in the embedded store, or in Vault for a Vault set); the value comes from stdin or a hidden prompt, never argv",
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
    await withSecrets(io, opts, async (ctx) => {
      const kind = ctx.backendOf(set);
      if (kind === "env") {
        throw new UserError(
          `secret set "${set}" takes its values from Airlock's environment (backend: env): change the variable there, nothing is stored`,
        );
      }
      if (kind === "vault") {
        if (opts.file !== undefined || keep !== undefined) {
          throw new UserError(
            `--file and --keep apply to the embedded store, and set "${set}" lives in Vault: list file variables under \`files:\` in its \`vault:\` block; Vault keeps versions by its mount's max_versions`,
          );
        }
        await vaultPut(ctx, set, key, rotate);
        return;
      }
      await ctx.noteEmbeddedWrite(set);
      const v = await readSecretValue({ stdin: io.stdin, prompt: io.stderr }, `${set}/${key}`);
      const put = { actor: ctx.actor, file: opts.file, keep };
      const version = rotate
        ? await ctx.store.rotate(set, key, v, put)
        : await ctx.store.set(set, key, v, put);
      io.stdout.write(`${rotate ? "rotated" : "stored"} ${set}/${key}: version ${version}\n`);
    });
  });
}

export function registerSecrets(program: Command, partialIo: Partial<CliIo> = {}): void {
  const io = defaultIo(partialIo);
  const secrets = program
    .command("secrets")
    .description(
      "Manage secret sets: the embedded encrypted store, and the Vault sets of .airlock.yml",
    );

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
    await withSecrets(io, opts, async (ctx) => {
      ctx.refuseOutsideStore(set, "import");
      const entries = parseDotenv(text, opts.envFile);
      const empty = entries.find((e) => e.value === "");
      if (empty) {
        throw new SecretsError(
          `${opts.envFile}:${empty.line}: ${empty.key} has an empty value; remove the line or give it a value`,
        );
      }
      await ctx.noteEmbeddedWrite(set);
      const versions = await ctx.store.import(set, entries, { actor: ctx.actor, keep });
      const list = Object.entries(versions).map(([k, v]) => `${k} (version ${v})`);
      io.stdout.write(`imported ${list.length} keys into ${set}: ${list.join(", ")}\n`);
    });
  });

  withDirOptions(
    secrets
      .command("list")
      .description(
        "List sets and keys with their versions and times, and rotation reminders (never values)",
      )
      .argument("[set]", "only this set")
      .option("--json", "print JSON"),
  ).action(async (set: string | undefined, opts: DirOptions & { json?: boolean }) => {
    await withSecrets(io, opts, async (ctx) => {
      const kind = set === undefined ? undefined : ctx.backendOf(set);
      const keys: ListedKey[] =
        kind === "vault"
          ? []
          : (await ctx.store.list(set)).map((k) => ({ ...k, backend: "embedded" as const }));
      const vault = await listVault(
        ctx,
        set === undefined ? ctx.vaultSetNames() : kind === "vault" ? [set] : [],
      );
      keys.push(...vault.keys);
      const unlisted = vault.problems.length
        ? new UserError(`could not list ${vault.problems.join("; and ")}`)
        : undefined;
      if (opts.json) {
        io.stdout.write(`${JSON.stringify(keys, null, 2)}\n`);
        if (unlisted) throw unlisted;
        return;
      }
      if (keys.length === 0 && !unlisted) {
        io.stdout.write(
          set
            ? `no secret set "${set}" in ${ctx.dataDir}${ctx.searchedOnlyStore}\n`
            : `no secrets stored in ${ctx.dataDir}${ctx.config ? "" : ctx.searchedOnlyStore}\n`,
        );
        return;
      }
      if (keys.length > 0) {
        const rows = [["SET", "KEY", "VERSION", "KEPT", "AS", "UPDATED", "ROTATED", "FROM"]];
        for (const k of keys) {
          rows.push([
            k.set,
            k.key,
            String(k.version),
            // Newest first, as the embedded store keeps them.
            [...k.versions].sort((a, b) => b - a).join(","),
            k.file ? "file" : "env",
            formatTime(k.updatedAt),
            formatTime(k.rotatedAt),
            k.backend === "vault" ? `vault ${k.path}` : k.backend,
          ]);
        }
        io.stdout.write(formatTable(rows));
      }
      for (const r of vault.reminders) {
        io.stdout.write(
          r.due
            ? `rotation due: ${r.set}: ${r.message}; rotate with \`airlock secrets rotate ${r.set} KEY\`\n`
            : `rotation: ${r.set}: ${r.message}\n`,
        );
      }
      if (unlisted) throw unlisted;
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
      const at = opts.atVersion === undefined ? undefined : Number(opts.atVersion);
      await withSecrets(io, opts, async (ctx) => {
        const kind = ctx.backendOf(set);
        if (kind === "env") {
          throw new UserError(
            `secret set "${set}" takes its values from Airlock's environment (backend: env): there is nothing stored to reveal`,
          );
        }
        const value =
          kind === "vault"
            ? await vaultReveal(ctx, set, key, at)
            : (await ctx.store.reveal(set, key, { actor: ctx.actor, version: at })).value;
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
    await withSecrets(io, opts, async (ctx) => {
      ctx.refuseOutsideStore(set, "rollback");
      const r = await ctx.store.rollback(set, key, ctx.actor);
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
    await withSecrets(io, opts, async (ctx) => {
      ctx.refuseOutsideStore(set, "delete");
      const n = await ctx.store.delete(set, key, ctx.actor);
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
    await withSecrets(io, opts, async ({ store, actor }) => {
      const newKey = opts.newKeyStdin
        ? parseMasterKey(
            await readKeyText({ stdin: io.stdin, prompt: io.stderr }),
            "the new key on stdin",
          )
        : undefined;
      const r = await store.rekey({ actor, newKey, dataKey: opts.dataKey });
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
