// Airlock's data directory: database, logs, keys. Private to the user running Airlock.
import { mkdirSync } from "node:fs";
import path from "node:path";

/** `$AIRLOCK_HOME`, else `<project>/.airlock`. */
export function resolveDataDir(projectDir: string, env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(env.AIRLOCK_HOME || path.join(projectDir, ".airlock"));
}

export function ensureDataDir(dir: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}
