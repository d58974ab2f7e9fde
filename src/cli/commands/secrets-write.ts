// `airlock secrets set|rotate|import`: new versions of a set's values, read from stdin or a hidden
// prompt (never argv), into the embedded store or, for a Vault set, as a new KV version.
import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import { parseDotenv } from "../../secrets/dotenv.js";
import { SecretsError } from "../../secrets/errors.js";
import { readSecretValue } from "../../secrets/input.js";
import { UserError } from "../errors.js";
import { type CliIo, type DirOptions, withDirOptions } from "./common.js";
import { type SecretsContext, withSecrets } from "./secrets-context.js";

const ARGV_REFUSED =
  "a secret value on the command line would show in `ps` and shell history: pipe it on stdin (e.g. `airlock secrets set SET KEY < file`) or type it at the hidden prompt";

function parseKeep(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v))
    throw new UserError("--keep takes a whole number of versions, e.g. --keep 5");
  return Number(v);
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

interface PutOpts extends DirOptions {
  file?: boolean;
  keep?: string;
}
export function registerPut(secrets: Command, io: CliIo, name: "set" | "rotate"): void {
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

export function registerImport(secrets: Command, io: CliIo): void {
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
}
