// The secrets answer of the job API: a POSIX shell script the job's bootstrap evaluates, which
// exports the granted environment and writes the granted files into $AIRLOCK_SECRETS_DIR (a
// memory-backed volume). Every value is single-quoted, so none can turn into shell code; names
// were checked when the set was stored and are checked again here.
import type { SecretFile } from "../executors/types.js";

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const FILE_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;

/** 'value' with every ' written as '\'' : the one quoting that keeps any byte as data. */
export function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

export function secretsScript(s: { env: Record<string, string>; files: SecretFile[] }): string {
  const lines = ["set -e", "umask 077", 'mkdir -p "$AIRLOCK_SECRETS_DIR"'];
  for (const [k, v] of Object.entries(s.env)) {
    if (!ENV_NAME.test(k))
      throw new Error(`secret variable name ${JSON.stringify(k)} is not usable`);
    lines.push(`export ${k}=${shellQuote(v)}`);
  }
  for (const f of s.files) {
    if (!FILE_NAME.test(f.name))
      throw new Error(`secret file name ${JSON.stringify(f.name)} is not usable`);
    lines.push(`printf '%s' ${shellQuote(f.value)} > "$AIRLOCK_SECRETS_DIR/${f.name}"`);
  }
  return `${lines.join("\n")}\n`;
}
