// `airlock secrets list|get`: names, versions, times and rotation reminders (never values), and
// one value with --reveal, audited before it is printed; from the embedded store and Vault alike.
import type { Command } from "commander";
import type { StoredKeyInfo } from "../../secrets/embedded.js";
import {
  type RotationStatus,
  stringValue,
  VaultConfigError,
  VaultError,
} from "../../secrets/vault/index.js";
import { UserError } from "../errors.js";
import { type CliIo, type DirOptions, formatTable, formatTime, withDirOptions } from "./common.js";
import { type BackendKind, type SecretsContext, withSecrets } from "./secrets-context.js";

/** Keys as `list` shows them: the embedded store's, or a Vault set's with its path and reminder. */
interface ListedKey extends StoredKeyInfo {
  backend: BackendKind;
  /** Vault: the API path the values are read from. */
  path?: string;
  rotation?: Omit<RotationStatus, "set">;
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

export function registerList(secrets: Command, io: CliIo): void {
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
}

export function registerGet(secrets: Command, io: CliIo): void {
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
}
