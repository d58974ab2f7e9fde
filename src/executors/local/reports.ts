// Reads a finished job's report files (JUnit XML) out of its workspace before the workspace goes.
// The job wrote them, so they are untrusted: no symlink may lead outside the workspace, and size
// is capped. Called only once every process of the job is gone, so nothing changes underneath.
import { constants } from "node:fs";
import { lstat, open, realpath } from "node:fs/promises";
import path from "node:path";
import { glob } from "tinyglobby";
import { isInside, safeRelative } from "./paths.js";

export const MAX_REPORT_BYTES = 8 * 1024 * 1024;
export const MAX_REPORTS_TOTAL = 32 * 1024 * 1024;
export const MAX_REPORT_FILES = 200;

export interface ReadReports {
  reports: { path: string; content: string }[];
  /** Files left out and why, for the job's log. */
  skipped: string[];
  /** Configured patterns that matched no file the job wrote: warnings on the job. */
  missing: string[];
}

/** What the report files looked like before the job ran: path -> inode, mtime and size. */
export type ReportStamps = Map<string, string>;

const GLOB = { onlyFiles: true, followSymbolicLinks: false, expandDirectories: false, dot: true };

const stampOf = async (file: string): Promise<string | null> => {
  try {
    const st = await lstat(file);
    return `${st.ino}:${st.mtimeMs}:${st.size}`;
  } catch {
    return null;
  }
};

/**
 * The report files already in the checkout before the job starts (committed, or copied by
 * --dirty from an earlier local run): a file still the same afterwards was not written by the job.
 */
export async function stampReports(startDir: string, patterns: string[]): Promise<ReportStamps> {
  const stamps: ReportStamps = new Map();
  const usable = patterns.filter((p) => insideWorkspace(p));
  if (usable.length === 0) return stamps;
  for (const rel of await glob(usable, { cwd: startDir, ...GLOB })) {
    const s = await stampOf(path.join(startDir, rel));
    if (s) stamps.set(rel, s);
  }
  return stamps;
}

const insideWorkspace = (p: string) =>
  !p.includes("\0") && !path.posix.isAbsolute(p) && !p.split("/").includes("..");

/** `patterns` are relative to `startDir`, which lies inside `workspace`. */
export async function readReports(
  workspace: string,
  startDir: string,
  patterns: string[],
  before: ReportStamps = new Map(),
): Promise<ReadReports> {
  const out: ReadReports = { reports: [], skipped: [], missing: [] };
  const usable = patterns.filter((p) => {
    const ok = insideWorkspace(p);
    if (!ok) out.skipped.push(`${p}: report patterns must stay inside the workspace`);
    return ok;
  });
  if (usable.length === 0) return out;
  const root = await realpath(workspace);
  const fresh = async (rel: string) => {
    const was = before.get(rel);
    return was === undefined || was !== (await stampOf(path.join(startDir, rel)));
  };
  // One glob per pattern, so that a pattern the job wrote nothing for is known by name.
  const found = new Set<string>();
  const stale = new Set<string>();
  for (const p of usable) {
    let any = false;
    for (const rel of await glob([p], { cwd: startDir, ...GLOB })) {
      if (!found.has(rel) && !(await fresh(rel))) {
        stale.add(rel);
        continue;
      }
      found.add(rel);
      any = true;
    }
    if (!any) out.missing.push(p);
  }
  for (const rel of [...stale].sort()) {
    out.skipped.push(
      `${rel}: there before the job started and not rewritten by it, so not counted`,
    );
  }
  const matches = [...found].sort();
  let total = 0;
  for (const rel of matches.slice(0, MAX_REPORT_FILES)) {
    const name = safeRelative(rel);
    if (name === null) continue;
    const why = await readOne(root, path.join(startDir, name), MAX_REPORT_BYTES, (content) => {
      if (total + content.length > MAX_REPORTS_TOTAL)
        return "reports are larger than allowed in total";
      total += content.length;
      out.reports.push({ path: name, content: content.toString("utf8") });
      return null;
    });
    if (why) out.skipped.push(`${name}: ${why}`);
  }
  if (matches.length > MAX_REPORT_FILES) {
    out.skipped.push(
      `${matches.length - MAX_REPORT_FILES} more files: at most ${MAX_REPORT_FILES} are read`,
    );
  }
  return out;
}

async function readOne(
  root: string,
  file: string,
  max: number,
  take: (content: Buffer) => string | null,
): Promise<string | null> {
  let real: string;
  try {
    real = await realpath(file);
  } catch {
    return "cannot be resolved";
  }
  if (!isInside(real, root)) return "is a link to outside the workspace";
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return "cannot be opened";
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) return "is not a regular file";
    if (st.size > max) return `is larger than ${max} bytes`;
    const buf = Buffer.alloc(st.size);
    const { bytesRead } = await fh.read(buf, 0, st.size, 0);
    return take(buf.subarray(0, bytesRead));
  } finally {
    await fh.close();
  }
}
