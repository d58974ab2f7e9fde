// The data directory and git: the default one (<project>/.airlock) sits inside the project's
// repository, where a `git add -A` would commit the master key and the database with every secret.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { MASTER_KEY_FILE } from "../../secrets/master-key.js";
import { type DoctorCheck, fail, ok } from "./types.js";

const exec = promisify(execFile);
const SUBJECT = "data directory";
/** What must never be in a repository: the key that opens every secret, and the database. */
const KEPT_OUT = [MASTER_KEY_FILE, "airlock.db"];

export async function checkDataDirIgnored(dataDir: string): Promise<DoctorCheck[]> {
  // Airlock makes it with a .gitignore of its own.
  if (!existsSync(dataDir)) return [];
  const probe = path.resolve(dataDir);
  const git = (...args: string[]) => exec("git", ["-C", probe, ...args]);
  let top: string;
  try {
    top = (await git("rev-parse", "--show-toplevel")).stdout.trim();
  } catch {
    return []; // not in a repository (or no git: the git check says so)
  }
  const files = KEPT_OUT.map((f) => path.join(dataDir, f));
  const tracked = (await git("ls-files", "--full-name", "--", ...files)).stdout
    .split("\n")
    .filter(Boolean);
  if (tracked.length) {
    return [
      fail(
        SUBJECT,
        `${tracked.join(", ")} ${tracked.length === 1 ? "is" : "are"} committed to the repository at ${top}: run \`git -C ${top} rm --cached ${tracked.join(" ")}\`, and since anyone who can read the repository's history has ${tracked.length === 1 ? "it" : "them"}, rotate the master key and every secret (docs/secrets.md)`,
      ),
    ];
  }
  // check-ignore answers with the paths git ignores (exit 1 when none is).
  const ignored = await git("check-ignore", "--no-index", "--", ...files).then(
    (r) => r.stdout.split("\n").filter(Boolean).length,
    () => 0,
  );
  if (ignored < files.length) {
    const rel = path.relative(top, dataDir) || ".";
    return [
      fail(
        SUBJECT,
        `${rel}/ is inside the repository at ${top} and git does not ignore it, so \`git add -A\` would commit the master key and the database: run \`printf '*\\n' > ${path.join(dataDir, ".gitignore")}\`, or set AIRLOCK_HOME to a directory outside the repository`,
      ),
    ];
  }
  return [ok(SUBJECT, `git ignores ${path.relative(top, dataDir) || "."}/ (inside ${top})`)];
}
