// Airlock's data directory: database, logs, keys. Private to the user running Airlock.
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";

/** `$AIRLOCK_HOME`, else `<project>/.airlock`. */
export function resolveDataDir(projectDir: string, env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(env.AIRLOCK_HOME || path.join(projectDir, ".airlock"));
}

/** What the data directory's own .gitignore says: nothing in it belongs in a repository. */
export const DATA_DIR_GITIGNORE =
  "# Airlock's data directory (keys, database, logs): never commit it.\n*\n";

/**
 * Makes the data directory (0700) and its .gitignore: the default one sits inside the project's
 * repository, where `git add -A` would otherwise commit the master key and the database.
 */
export function ensureDataDir(dir: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const ignore = path.join(dir, ".gitignore");
  if (!existsSync(ignore)) {
    try {
      writeFileSync(ignore, DATA_DIR_GITIGNORE, { flag: "wx", mode: 0o644 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
  }
  return dir;
}
