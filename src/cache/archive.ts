// Packs and unpacks the directories of a cache entry (node-tar, gzip through Node's zlib).
// node-tar already refuses entries with "..", strips absolute paths and never extracts through
// a symlink; on top of that, no symlink leaving its root is saved or restored (a link to
// /home/you would hand a later job a door out of its workspace).
import { lstatSync, readlinkSync } from "node:fs";
import path from "node:path";
import * as tar from "tar";

/** Where a symlink at `rel` (relative to its root) points, relative to the root, or null if out. */
function linkStaysInside(rel: string, target: string): boolean {
  if (path.isAbsolute(target)) return false;
  const resolved = path.posix.normalize(path.posix.join(path.posix.dirname(rel), target));
  return resolved !== ".." && !resolved.startsWith("../");
}

/** Writes `rels` (paths under `root`) into a gzipped tar at `file`; returns dropped links. */
export async function pack(root: string, rels: string[], file: string): Promise<string[]> {
  const dropped: string[] = [];
  await tar.c(
    {
      file,
      cwd: root,
      gzip: { level: 1 },
      portable: true,
      strict: true,
      filter: (p) => {
        const st = lstatSync(path.join(root, p));
        if (!st.isSymbolicLink()) return st.isFile() || st.isDirectory();
        const ok = linkStaysInside(p, readlinkSync(path.join(root, p)));
        if (!ok) dropped.push(p);
        return ok;
      },
    },
    rels,
  );
  return dropped;
}

/** Unpacks `file` into `root`; returns what was refused (escaping links, special files). */
export async function unpack(file: string, root: string): Promise<string[]> {
  const refused: string[] = [];
  await tar.x({
    file,
    cwd: root,
    preservePaths: false,
    noMtime: false,
    onwarn: (_code, message) => refused.push(String(message)),
    filter: (p, entry) => {
      const e = entry as tar.ReadEntry;
      const ok =
        ["File", "OldFile", "ContiguousFile", "Directory", "Link"].includes(e.type) ||
        (e.type === "SymbolicLink" && linkStaysInside(p, e.linkpath ?? ""));
      if (!ok) refused.push(p);
      return ok;
    },
  });
  return refused;
}
