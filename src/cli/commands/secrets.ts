// `airlock secrets …`: the secret sets, in the embedded store or in Vault. Values come from stdin
// or a hidden prompt, never from argv; `list` never shows values; `get` needs --reveal and is
// audited. Which backend holds a set is read from the project's .airlock.yml; without one, only
// the embedded store is known.
// The subcommands are in secrets-write.ts (set, rotate, import), secrets-read.ts (list, get) and
// secrets-store.ts (rollback, delete, rekey); what they share is in secrets-context.ts.
import type { Command } from "commander";
import { type CliIo, defaultIo } from "./common.js";
import { registerGet, registerList } from "./secrets-read.js";
import { registerDelete, registerRekey, registerRollback } from "./secrets-store.js";
import { registerImport, registerPut } from "./secrets-write.js";

export function registerSecrets(program: Command, partialIo: Partial<CliIo> = {}): void {
  const io = defaultIo(partialIo);
  const secrets = program
    .command("secrets")
    .description(
      "Manage secret sets: the embedded encrypted store, and the Vault sets of .airlock.yml",
    );

  registerPut(secrets, io, "set");
  registerPut(secrets, io, "rotate");
  registerImport(secrets, io);
  registerList(secrets, io);
  registerGet(secrets, io);
  registerRollback(secrets, io);
  registerDelete(secrets, io);
  registerRekey(secrets, io);
}
