// Puts what a needed job kept into a job's directory before it starts. The checkout is the
// pull request's: a committed symlink (dist -> /root, dist/app.js -> /etc/passwd) must never
// carry a write out of the workspace. Each directory on the way is checked without following
// links; a symlink in the way is replaced by a directory, as GNU tar does; a file is written
// only where nothing but a plain file stood (O_EXCL after removing it).
import { constants } from "node:fs";
import { chmod, copyFile, lstat, mkdir, unlink } from "node:fs/promises";
import path from "node:path";
import { formatBytes } from "../config/size.js";
import type { ArtifactManifest, ArtifactStore } from "./store.js";

/** Makes `rel`'s directories under `root` as real directories; false when a file is in the way. */
async function realDirs(root: string, rel: string): Promise<boolean> {
  let dir = root;
  for (const part of path.posix.dirname(rel).split("/")) {
    if (part === "." || part === "") continue;
    dir = path.join(dir, part);
    const st = await lstat(dir).catch(() => null);
    if (st?.isSymbolicLink()) await unlink(dir);
    else if (st && !st.isDirectory()) return false;
    else if (st) continue;
    await mkdir(dir, { mode: 0o755 });
  }
  return true;
}

/** Why a manifest path may not be written, or null (the store wrote it; checked all the same). */
function badPath(rel: string): boolean {
  return (
    rel === "" ||
    rel.includes("\0") ||
    path.posix.isAbsolute(rel) ||
    rel.split("/").some((p) => p === ".." || p === "." || p === "")
  );
}

/**
 * Copies what `m` lists into `root` (the job's directory); says what it did in the job's log.
 * Returns the number of files written.
 */
export async function receiveArtifacts(
  store: ArtifactStore,
  m: ArtifactManifest,
  root: string,
  say: (line: string) => void,
): Promise<number> {
  let n = 0;
  let bytes = 0;
  for (const f of m.files) {
    const why = badPath(f.path)
      ? "not a path inside the job's directory"
      : !(await realDirs(root, f.path))
        ? "a file of the checkout stands where its directory goes"
        : null;
    const dest = path.join(root, ...f.path.split("/"));
    const there = why ? null : await lstat(dest).catch(() => null);
    if (why || there?.isDirectory()) {
      say(`artifacts: ${f.path} from ${m.jobId} not received: ${why ?? "a directory is there"}`);
      continue;
    }
    if (there) await unlink(dest); // a plain file or a symlink: replaced, never written through
    await copyFile(store.storedPath(m.runId, m.jobId, f.path), dest, constants.COPYFILE_EXCL);
    await chmod(dest, f.exec ? 0o755 : 0o644);
    n++;
    bytes += f.size;
  }
  say(`artifacts: received ${n} file${n === 1 ? "" : "s"} (${formatBytes(bytes)}) from ${m.jobId}`);
  return n;
}
