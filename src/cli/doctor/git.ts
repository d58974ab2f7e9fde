// git: installed, and the project a repository with a commit (`airlock run` checks out HEAD),
// whose committed .airlock.yml is the one in the working tree.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { UserError } from "../errors.js";
import { inspectRepo, readAtCommit } from "../local-repo.js";
import { CONFIG_FILE } from "./config.js";
import { type DoctorCheck, fail, ok, reason, warn } from "./types.js";

const exec = promisify(execFile);

export async function checkGit(projectDir: string, hasConfig: boolean): Promise<DoctorCheck[]> {
  let version: string;
  try {
    version = (await exec("git", ["--version"])).stdout.trim();
  } catch {
    return [fail("git", "git is not installed: apt-get install -y git")];
  }
  let repo: Awaited<ReturnType<typeof inspectRepo>>;
  try {
    repo = await inspectRepo(projectDir);
  } catch (e) {
    if (e instanceof UserError) return [fail("git", `${version}; ${e.message}`)];
    throw e;
  }
  const out = [
    ok(
      "git",
      `${version}; HEAD is ${repo.sha.slice(0, 12)}${repo.branch ? ` on ${repo.branch}` : " (detached)"}`,
    ),
  ];
  if (hasConfig) {
    try {
      const committed = await readAtCommit(repo, CONFIG_FILE);
      const current = readFileSync(path.join(projectDir, CONFIG_FILE), "utf8");
      if (committed === null) {
        out.push(
          warn(
            "git",
            `${CONFIG_FILE} is not in HEAD, and \`airlock run\` reads the committed one: commit it (or run with --dirty)`,
          ),
        );
      } else if (committed !== current) {
        out.push(
          warn(
            "git",
            `${CONFIG_FILE} differs from HEAD's, and \`airlock run\` uses the committed one: commit your change (or run with --dirty)`,
          ),
        );
      }
    } catch (e) {
      out.push(warn("git", `cannot compare ${CONFIG_FILE} with HEAD's: ${reason(e)}`));
    }
  }
  return out;
}
