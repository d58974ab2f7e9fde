// Which project a command works on: like git with its repository, the nearest directory at or
// above the one given that holds .airlock.yml, not looking past the top of its git work tree.
import { existsSync } from "node:fs";
import path from "node:path";

export const CONFIG_FILE = ".airlock.yml";

/** The project directory for `dir` (absolute); `dir` itself when no .airlock.yml is found. */
export function projectDirOf(dir: string): string {
  const start = path.resolve(dir);
  for (let d = start; ; d = path.dirname(d)) {
    if (existsSync(path.join(d, CONFIG_FILE))) return d;
    // The top of a work tree (.git is a directory, or a file in a linked worktree), or of the disk.
    if (existsSync(path.join(d, ".git")) || path.dirname(d) === d) return start;
  }
}
