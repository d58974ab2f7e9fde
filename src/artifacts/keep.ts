// Keeps a finished job's `artifacts:` in the store. The job wrote these files, so they are
// untrusted: nothing is followed through a symlink (a link to /etc/shadow, a directory linked
// to the host's home), sizes are checked before a byte is read (a sparse 1 TB file costs the job
// nothing to make), and text passes the job's redactor like every byte a job emits. Called only
// once every process of the job is gone, so nothing changes underneath.
import { constants, createWriteStream } from "node:fs";
import { copyFile, lstat, mkdir, open, readdir, realpath, rm } from "node:fs/promises";
import path from "node:path";
import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { glob } from "tinyglobby";
import { formatBytes } from "../config/size.js";
import type { Redactor } from "../redact/types.js";
import type { ArtifactFile, ArtifactStore } from "./store.js";

export interface KeepRequest {
  runId: string;
  jobId: string;
  /** What the job held (secret sets, "oidc"); empty for a public job. */
  credentials: string[];
  /** The job's directory: patterns are relative to it. */
  root: string;
  patterns: string[];
  /** The job's redactor (it masks what the job held). */
  redactor: Redactor;
  say(line: string): void;
}

/** Reads a file the job left, never through a symlink it may have put in its place. */
async function readNoFollow(file: string) {
  return (await open(file, constants.O_RDONLY | constants.O_NOFOLLOW)).createReadStream();
}

/** A file is text when it is UTF-8 without NUL bytes (what a redactor can read). */
async function isText(file: string): Promise<boolean> {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  let text = true;
  await pipeline(
    await readNoFollow(file),
    new Writable({
      write(chunk: Buffer, _enc, done) {
        if (text) {
          try {
            if (chunk.includes(0)) text = false;
            else decoder.decode(chunk, { stream: true });
          } catch {
            text = false;
          }
        }
        done();
      },
    }),
  );
  if (!text) return false;
  try {
    decoder.decode();
    return true;
  } catch {
    return false;
  }
}

/** The job's files the patterns name: regular files reached without following a symlink. */
async function collect(
  root: string,
  patterns: string[],
  say: (line: string) => void,
): Promise<{ rel: string; full: string; size: number; exec: boolean }[]> {
  const realRoot = await realpath(root);
  const found = await glob(patterns, {
    cwd: root,
    onlyFiles: false,
    followSymbolicLinks: false,
    expandDirectories: true,
    dot: true,
  });
  // The glob never lists symlinks: say which ones the matched directories hold, as not kept.
  for (const dir of found.filter((f) => f.endsWith("/"))) {
    for (const e of await readdir(path.join(root, dir), { withFileTypes: true }).catch(() => [])) {
      if (e.isSymbolicLink()) {
        say(
          `artifacts: ${dir}${e.name} not kept: it is a symlink (artifacts keep regular files only)`,
        );
      }
    }
  }
  const out = [];
  for (const rel of [...new Set(found)].filter((f) => !f.endsWith("/")).sort()) {
    const full = path.join(root, rel);
    const st = await lstat(full).catch(() => null);
    if (!st) continue;
    if (st.isSymbolicLink()) {
      say(`artifacts: ${rel} not kept: it is a symlink (artifacts keep regular files only)`);
      continue;
    }
    if (!st.isFile()) continue;
    // Its directory must be the one it seems: not a symlink to elsewhere (dist -> /home/you).
    const parent = await realpath(path.dirname(full)).catch(() => null);
    if (parent !== path.join(realRoot, path.dirname(rel))) {
      say(`artifacts: ${rel} not kept: it is reached through a symlink`);
      continue;
    }
    out.push({ rel, full, size: st.size, exec: (st.mode & 0o100) !== 0 });
  }
  return out;
}

/** Copies `files` under `staged`/files: text through the redactor, binary as it is (public jobs). */
async function copyInto(
  staged: string,
  files: { rel: string; full: string; exec: boolean }[],
  req: KeepRequest,
  kept: ArtifactFile[],
): Promise<void> {
  for (const f of files) {
    const dest = path.join(staged, "files", f.rel);
    await mkdir(path.dirname(dest), { recursive: true, mode: 0o700 });
    const text = await isText(f.full);
    if (text) {
      await pipeline(
        await readNoFollow(f.full),
        req.redactor.stream(),
        createWriteStream(dest, { flags: "wx", mode: 0o600 }),
      );
    } else if (req.credentials.length > 0) {
      // The redactor cannot read inside binary files (a gzip of a secret passes any masker).
      req.say(
        `artifacts: ${f.rel} not kept: a job holding secrets keeps text files only (the redactor cannot read binary ones)`,
      );
      continue;
    } else {
      await copyFile(f.full, dest, constants.COPYFILE_EXCL);
    }
    const size = (await lstat(dest)).size;
    kept.push({ path: f.rel.split(path.sep).join("/"), size, exec: f.exec, text });
  }
}

/** Keeps the job's artifacts; says in the job's log what was kept or why not. Never throws. */
export async function keepArtifacts(store: ArtifactStore, req: KeepRequest): Promise<void> {
  const { say } = req;
  try {
    const t0 = performance.now();
    const files = await collect(req.root, req.patterns, say);
    if (files.length === 0) {
      return say(`artifacts: no file matched ${req.patterns.join(", ")}: nothing kept`);
    }
    const { jobBytes, jobFiles } = store.limits;
    const total = files.reduce((n, f) => n + f.size, 0);
    if (files.length > jobFiles) {
      return say(
        `artifacts: not kept: ${files.length} files, more than the ${jobFiles} a job may keep`,
      );
    }
    if (total > jobBytes) {
      return say(
        `artifacts: not kept: ${formatBytes(total)}, more than the ${formatBytes(jobBytes)} a job may keep (AIRLOCK_ARTIFACTS_JOB_SIZE)`,
      );
    }
    const staged = await store.staging();
    const kept: ArtifactFile[] = [];
    try {
      await copyInto(staged, files, req, kept);
    } catch (e) {
      await rm(staged, { recursive: true, force: true });
      throw e;
    }
    if (kept.length === 0) {
      await rm(staged, { recursive: true, force: true });
      return say("artifacts: nothing kept");
    }
    await store.commit(staged, {
      runId: req.runId,
      jobId: req.jobId,
      credentials: req.credentials,
      created: Date.now(),
      files: kept,
    });
    const bytes = kept.reduce((n, f) => n + f.size, 0);
    say(
      `artifacts: kept ${kept.length} file${kept.length === 1 ? "" : "s"} (${formatBytes(bytes)}) in ${((performance.now() - t0) / 1000).toFixed(1)}s`,
    );
  } catch (e) {
    say(`artifacts: not kept: ${e instanceof Error ? e.message : String(e)}`);
  }
}
