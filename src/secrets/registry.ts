// Which SecretBackend serves a set. Backends register a factory under the name `backend:` uses in
// .airlock.yml; callers ask SecretsService.backendFor(set) and never name a backend themselves,
// so a new backend (Vault) slots in by registering, without touching them.
import type { SecretSetConfig } from "../config/schema.js";
import type { Store } from "../store/index.js";
import { EmbeddedStore } from "./embedded.js";
import { EmbeddedBackend } from "./embedded-backend.js";
import { EnvBackend } from "./env.js";
import type { SecretBackend } from "./types.js";

/** What a backend factory may use. One backend instance serves every set of its kind. */
export interface BackendContext {
  dataDir: string;
  /** The database (the embedded store's sealed values and the audit log live there). */
  store: Store;
  /** The configuration's secret sets, by name. */
  sets: Record<string, SecretSetConfig>;
  /** Airlock's own environment (for keys, tokens and env_override). */
  env: NodeJS.ProcessEnv;
}

export type BackendFactory = (ctx: BackendContext) => SecretBackend;

const registered = new Map<string, BackendFactory>([
  [
    "embedded",
    (ctx) =>
      new EmbeddedBackend(
        new EmbeddedStore({
          dataDir: ctx.dataDir,
          store: ctx.store,
          env: ctx.env,
        }),
        ctx.sets,
      ),
  ],
  ["env", (ctx) => new EnvBackend(ctx.sets, ctx.env)],
]);

/** Makes `kind` available to every SecretsService created afterwards (e.g. "vault"). */
export function registerBackend(kind: string, factory: BackendFactory): void {
  registered.set(kind, factory);
}

export function registeredBackends(): Map<string, BackendFactory> {
  return new Map(registered);
}
