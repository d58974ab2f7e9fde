// `airlock secrets rollback|delete|rekey`: the commands that change only the embedded store —
// its kept versions, its keys, and the master key its data key is wrapped under. A Vault or env
// set is refused with where to make the change instead.
import type { Command } from "commander";
import { parseMasterKey } from "../../secrets/crypto.js";
import { readKeyText } from "../../secrets/input.js";
import { type CliIo, type DirOptions, withDirOptions } from "./common.js";
import { withSecrets } from "./secrets-context.js";

export function registerRollback(secrets: Command, io: CliIo): void {
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
}

export function registerDelete(secrets: Command, io: CliIo): void {
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
}

export function registerRekey(secrets: Command, io: CliIo): void {
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
