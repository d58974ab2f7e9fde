// What every `airlock secrets` subcommand works in: the data directory's embedded store, the
// project's .airlock.yml (which says which backend holds each set), Vault connected on first use,
// and store and Vault errors turned into one-line user errors. Apart from the subcommands so each
// of them reads as what it does.
import { existsSync } from "node:fs";
import path from "node:path";
import { ConfigError, loadConfig } from "../../config/loader.js";
import type { Config } from "../../config/schema.js";
import { EmbeddedStore } from "../../secrets/embedded.js";
import { SecretsError } from "../../secrets/errors.js";
import {
  type VaultBackend,
  VaultConfigError,
  VaultError,
  vaultBackendFromConfig,
} from "../../secrets/vault/index.js";
import type { OpenedStore } from "../../store/index.js";
import { UserError } from "../errors.js";
import { CONFIG_FILE } from "../project-dir.js";
import { type CliIo, cliActor, type DirOptions, dataDirOf } from "./common.js";

export type BackendKind = Config["secrets"][string]["backend"];

/** What a secrets command works with: the data directory's store and the project's pipeline. */
export class SecretsContext {
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
export async function withSecrets<T>(
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
