// The artifact store: the files each job kept (its `artifacts:`), under the data directory, one
// directory per job of a run: `<run>/<job>/files/…` and a manifest (manifest.json) listing them.
// A job's directory is built aside and renamed into place, so no reader sees half of it. Old runs
// go after the retention period, and the oldest first when the store is over its budget.
import { randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { sizeStringBytes } from "../config/size.js";

/** One kept file. */
export interface ArtifactFile {
  /** Relative to the job's directory, "/"-separated. */
  path: string;
  size: number;
  /** Executable by its owner when kept: it is again when received. */
  exec: boolean;
  /** Text (UTF-8 without NUL), which passed the redactor; otherwise kept as it was. */
  text: boolean;
}

export interface ArtifactManifest {
  runId: string;
  jobId: string;
  /** What the job held (secret sets, "oidc"): who may receive its files (see scope.ts). */
  credentials: string[];
  created: number;
  files: ArtifactFile[];
}

export interface ArtifactLimits {
  /** Bytes one job may keep (AIRLOCK_ARTIFACTS_JOB_SIZE). */
  jobBytes: number;
  /** Files one job may keep. */
  jobFiles: number;
  /** Bytes of the whole store (AIRLOCK_ARTIFACTS_SIZE): the oldest runs go first. */
  totalBytes: number;
  /** How long a run's artifacts are kept (AIRLOCK_ARTIFACTS_DAYS). */
  retentionMs: number;
}

export const DEFAULT_ARTIFACT_LIMITS: ArtifactLimits = {
  jobBytes: 256 * 1024 ** 2,
  jobFiles: 10_000,
  totalBytes: 5 * 1024 ** 3,
  retentionMs: 30 * 86_400_000,
};

/** Run and job ids are file names here, as in the log store. */
const SAFE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$/;
const MANIFEST = "manifest.json";

export class ArtifactStore {
  constructor(
    readonly dir: string,
    readonly limits: ArtifactLimits = DEFAULT_ARTIFACT_LIMITS,
  ) {}

  #jobDir(runId: string, jobId: string): string {
    if (!SAFE.test(runId) || !SAFE.test(jobId)) throw new Error("invalid run or job id");
    return path.join(this.dir, runId, jobId);
  }

  /** A fresh private directory to build a job's artifacts in (files go under `files/`). */
  async staging(): Promise<string> {
    const dir = path.join(this.dir, ".tmp", randomBytes(8).toString("hex"));
    await mkdir(path.join(dir, "files"), { recursive: true, mode: 0o700 });
    return dir;
  }

  /** Moves a built job directory into place, then applies retention and the budget. */
  async commit(staged: string, m: ArtifactManifest): Promise<void> {
    try {
      await writeFile(path.join(staged, MANIFEST), JSON.stringify(m), { mode: 0o600 });
      const dest = this.#jobDir(m.runId, m.jobId);
      await mkdir(path.dirname(dest), { recursive: true, mode: 0o700 });
      // A job kept twice (a retried attempt under the same run id): the later one wins.
      await this.#remove(dest);
      await rename(staged, dest);
    } finally {
      await rm(staged, { recursive: true, force: true });
    }
    await this.prune(Date.now(), m.runId);
  }

  /** What `jobId` of `runId` kept, or null when it kept nothing. */
  async manifest(runId: string, jobId: string): Promise<ArtifactManifest | null> {
    try {
      const dir = this.#jobDir(runId, jobId);
      return JSON.parse(await readFile(path.join(dir, MANIFEST), "utf8")) as ArtifactManifest;
    } catch {
      return null;
    }
  }

  /** Every job of the run that kept files, by job id. */
  async list(runId: string): Promise<ArtifactManifest[]> {
    if (!SAFE.test(runId)) return [];
    const jobs = await readdir(path.join(this.dir, runId)).catch(() => [] as string[]);
    const out: ArtifactManifest[] = [];
    for (const j of jobs.sort()) {
      const m = SAFE.test(j) ? await this.manifest(runId, j) : null;
      if (m) out.push(m);
    }
    return out;
  }

  /**
   * The stored file a manifest lists under `rel`, with its entry; null when there is none.
   * Only names the manifest holds are ever opened, so no request path reaches the disk.
   */
  async file(
    runId: string,
    jobId: string,
    rel: string,
  ): Promise<{ entry: ArtifactFile; file: string; manifest: ArtifactManifest } | null> {
    const m = await this.manifest(runId, jobId);
    const entry = m?.files.find((f) => f.path === rel);
    if (!m || !entry) return null;
    return { entry, manifest: m, file: this.storedPath(runId, jobId, entry.path) };
  }

  /** Where a listed file of a job is kept. */
  storedPath(runId: string, jobId: string, rel: string): string {
    return path.join(this.#jobDir(runId, jobId), "files", ...rel.split("/"));
  }

  /**
   * Removes runs older than the retention period, then the oldest runs while the store is over
   * its budget (never `keep`, the run being written).
   */
  async prune(now: number, keep?: string): Promise<void> {
    const runs: { id: string; created: number; size: number }[] = [];
    for (const id of await readdir(this.dir).catch(() => [] as string[])) {
      if (!SAFE.test(id)) continue;
      const ms = await this.list(id);
      const created = Math.max(0, ...ms.map((m) => m.created));
      const size = ms.reduce((n, m) => n + m.files.reduce((k, f) => k + f.size, 0), 0);
      runs.push({ id, created, size });
    }
    let total = runs.reduce((n, r) => n + r.size, 0);
    for (const r of runs.sort((a, b) => a.created - b.created)) {
      if (r.id === keep) continue;
      const expired = now - r.created > this.limits.retentionMs;
      if (!expired && total <= this.limits.totalBytes) continue;
      await this.#remove(path.join(this.dir, r.id));
      total -= r.size;
    }
  }

  /** Renamed away first: a reader never sees a directory half removed. */
  async #remove(dir: string): Promise<void> {
    const trash = path.join(this.dir, ".tmp", `gone-${randomBytes(8).toString("hex")}`);
    await mkdir(path.dirname(trash), { recursive: true, mode: 0o700 });
    const moved = await rename(dir, trash).then(
      () => true,
      () => false,
    );
    if (moved) await rm(trash, { recursive: true, force: true });
  }
}

/** The store's limits from AIRLOCK_ARTIFACTS_JOB_SIZE, AIRLOCK_ARTIFACTS_SIZE, AIRLOCK_ARTIFACTS_DAYS. */
export function artifactLimits(env: NodeJS.ProcessEnv): ArtifactLimits {
  const size = (name: string, dflt: number) => {
    const v = env[name];
    if (!v) return dflt;
    const n = sizeStringBytes(v);
    if (n === null || n <= 0) {
      throw new Error(`${name}=${JSON.stringify(v)} is not a size: write it like 256MiB or 10GB`);
    }
    return n;
  };
  const days = env.AIRLOCK_ARTIFACTS_DAYS;
  if (days !== undefined && !/^[1-9]\d{0,4}$/.test(days)) {
    throw new Error(
      `AIRLOCK_ARTIFACTS_DAYS=${JSON.stringify(days)} is not a number of days: write it like 30`,
    );
  }
  return {
    ...DEFAULT_ARTIFACT_LIMITS,
    jobBytes: size("AIRLOCK_ARTIFACTS_JOB_SIZE", DEFAULT_ARTIFACT_LIMITS.jobBytes),
    totalBytes: size("AIRLOCK_ARTIFACTS_SIZE", DEFAULT_ARTIFACT_LIMITS.totalBytes),
    ...(days ? { retentionMs: Number(days) * 86_400_000 } : {}),
  };
}
