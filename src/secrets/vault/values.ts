// From a set's secret to what the job gets: which variables it maps to which keys, each value as
// a string, and every value of every live version the redactor must know. Pure, so that grant
// and list name the same variables.
import type { VaultSetConfig } from "../../config/vault-schema.js";
import type { RegisteredSecret } from "../../redact/types.js";
import { VaultConfigError } from "./connection.js";
import type { ResolvedKv } from "./kv.js";

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Variable name -> key in the secret. */
export function keyMapping(
  set: string,
  cfg: VaultSetConfig,
  kv: ResolvedKv,
  data: Record<string, unknown>,
  notes: string[],
): Map<string, string> {
  const m = new Map<string, string>();
  if (cfg.keys) {
    const missing = Object.entries(cfg.keys).filter(([, k]) => !(k in data));
    if (missing.length) {
      throw new VaultConfigError(
        `set "${set}" maps ${missing.map(([n, k]) => `${n} to "${k}"`).join(", ")}, but ${kv.readPath} has no such key; it has: ${Object.keys(data).join(", ") || "no keys"}`,
      );
    }
    for (const [name, key] of Object.entries(cfg.keys)) m.set(name, key);
    return m;
  }
  for (const key of Object.keys(data)) {
    if (ENV_NAME.test(key)) m.set(key, key);
    else
      notes.push(
        `key "${key}" of ${kv.readPath} is not a valid variable name and was not passed; map it under \`keys:\``,
      );
  }
  return m;
}

/** A KV value as a job sees it: strings as they are, other JSON as JSON text. */
export function stringValue(v: unknown): string {
  if (typeof v === "string") return v;
  if (v === undefined || v === null) return "";
  return typeof v === "object" ? JSON.stringify(v) : String(v);
}

export function maskOf(
  mapping: Map<string, string>,
  versions: Record<string, unknown>[],
  cfg: VaultSetConfig,
): RegisteredSecret[] {
  const out: RegisteredSecret[] = [];
  const seen = new Set<string>();
  const nameOf = new Map([...mapping].map(([name, key]) => [key, name]));
  for (const data of versions) {
    // In token mode the job can read every key, mapped or not.
    const keys = cfg.mode === "token" ? Object.keys(data) : [...mapping.values()];
    for (const key of keys) {
      const value = stringValue(data[key]);
      if (!value || seen.has(`${key}\0${value}`)) continue;
      seen.add(`${key}\0${value}`);
      out.push({ name: nameOf.get(key) ?? key, value });
    }
  }
  return out;
}
