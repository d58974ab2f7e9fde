// Packs the directories of a cache entry (node-tar, gzip through Node's zlib) and unpacks them
// (GNU tar). No symlink leaving its root is saved (a link to /home/you would hand a later job a
// door out of its workspace); entries live in the data directory, which no job can write.
import { execFile } from "node:child_process";
import { lstatSync, readlinkSync } from "node:fs";
import path from "node:path";

/** Where a symlink at `rel` (relative to its root) points, relative to the root, or null if out. */
function linkStaysInside(rel: string, target: string): boolean {
  if (path.isAbsolute(target)) return false;
  const resolved = path.posix.normalize(path.posix.join(path.posix.dirname(rel), target));
  return resolved !== ".." && !resolved.startsWith("../");
}

/** What `pack` wrote: the links it dropped, and the bytes of the files it took. */
export interface Packed {
  dropped: string[];
  bytes: number;
}

/** Writes `rels` (paths under `root`) into a gzipped tar at `file`. */
export async function pack(root: string, rels: string[], file: string): Promise<Packed> {
  const dropped: string[] = [];
  let bytes = 0;
  const tar = await import("tar"); // only a job that saves a cache needs it
  await tar.c(
    {
      file,
      cwd: root,
      gzip: { level: 1 },
      portable: true,
      strict: true,
      filter: (p) => {
        const st = lstatSync(path.join(root, p));
        if (!st.isSymbolicLink()) {
          if (st.isFile()) bytes += st.size;
          return st.isFile() || st.isDirectory();
        }
        const ok = linkStaysInside(p, readlinkSync(path.join(root, p)));
        if (!ok) dropped.push(p);
        return ok;
      },
    },
    rels,
  );
  return { dropped, bytes };
}

/**
 * Unpacks `file` into `root` with GNU tar, several times faster than node-tar on many small
 * files (what actions/cache does too). GNU tar refuses members with "..", strips leading "/",
 * replaces a symlink standing where a directory is restored rather than writing through it, and
 * never owns files to the archive's users (--no-same-owner, for Airlock running as root).
 * `wrap` places tar (e.g. in the job's cgroup, so that a home in memory is charged to the job).
 * Returns the members it refused.
 */
export function unpack(
  file: string,
  root: string,
  wrap: (command: string[]) => string[] = (c) => c,
): Promise<string[]> {
  const [cmd, ...args] = wrap([
    "tar",
    "-xzf",
    file,
    "-C",
    root,
    "--no-same-owner",
    "--no-same-permissions",
  ]) as [string, ...string[]];
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { maxBuffer: 1 << 20 }, (err, _out, stderr) => {
      const refused = String(stderr)
        .split("\n")
        .filter((l) => l.trim() && !/Exiting with failure status/.test(l))
        .map((l) => l.replace(/^tar: /, ""));
      if (err && (err as NodeJS.ErrnoException).code === "ENOENT") {
        return reject(new Error("tar is not installed: apt-get install -y tar"));
      }
      if (err && refused.length === 0) return reject(new Error(err.message));
      resolve(refused);
    });
  });
}
