// Fresh, private workspaces for jobs: a checkout of the run's commit (or of the working tree with
// --dirty), under a per-run temporary root that is removed at the end.
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync, rmSync } from "node:fs";
import {
  chmod,
  copyFile,
  cp,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  realpath,
  rm,
  statfs,
  symlink,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { CheckoutSource } from "../types.js";
import { dirSafe, isInside, realish } from "./paths.js";

export class WorkspaceError extends Error {}

export interface Workspace {
  /** The checkout: a private directory (mode 0700) of its own. */
  src: string;
  /** An empty home directory beside it, when asked for (jobs outside the sandbox, caches). */
  home: string | null;
  /** The home is on the memory directory (a tmpfs), not beside the checkout. */
  homeInMemory: boolean;
  /** Makes the home when create() did not: in memory, or on disk beside the checkout. */
  addHome(inMemory: boolean): Promise<void>;
  /** A path beside it for the job's script, with the home (the sandbox gets it through a pipe). */
  script: string | null;
  /** Removes the workspace; safe to call more than once. */
  remove(): Promise<void>;
}

export interface WorkspacesOptions {
  /** Where the per-run temporary root is made (default: the OS temp directory). */
  tempDir?: string;
  /** Paths that must never end up in a workspace, e.g. Airlock's data directory. */
  exclude?: string[];
  /** A tmpfs where homes may be kept in memory (addHome); null: none. Default: /dev/shm. */
  memoryDir?: string | null;
}

/**
 * Where runs make their workspaces: AIRLOCK_WORKSPACES, else the OS temp directory ($TMPDIR).
 * A tmpfs such as /dev/shm makes small checkouts much cheaper, at the price of RAM.
 */
export function workspaceTempDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.AIRLOCK_WORKSPACES || tmpdir();
}

const SHA = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;
/** statfs's f_type of a tmpfs. */
const TMPFS_MAGIC = 0x01021994;

/** Workspaces of one run. Commits are materialised once, then copied per job (no git per job). */
export class Workspaces {
  readonly #tempDir: string;
  readonly #memoryDir: string | null;
  readonly #exclude: string[];
  #root: Promise<string> | null = null;
  #memoryRoot: Promise<string> | null = null;
  /** Roots made so far, removed at close() or, as a last resort, when the process exits. */
  readonly #made = new Set<string>();
  readonly #commits = new Map<string, Promise<Tree>>();
  readonly #onExit = () => {
    // Last resort when the process ends without close(): never leave checkouts behind. A close()
    // may be removing the same tree on another thread (a second Ctrl-C exits mid-close): a race
    // with it fails a removal, so each is tried again, and one failing does not skip the rest.
    for (const dir of this.#made) {
      for (let tries = 3; tries > 0; tries--) {
        try {
          rmSync(dir, { recursive: true, force: true, maxRetries: 2 });
          break;
        } catch {}
      }
    }
  };

  constructor(opts: WorkspacesOptions = {}) {
    this.#tempDir = realish(opts.tempDir ?? tmpdir());
    this.#exclude = (opts.exclude ?? []).map(realish);
    for (const e of this.#exclude) {
      if (isInside(this.#tempDir, e)) {
        throw new WorkspaceError(
          `the workspace directory ${this.#tempDir} is inside ${e}, which jobs must not see: set TMPDIR to a directory outside it`,
        );
      }
    }
    // A memory directory inside a hidden path is not used: homes stay on disk.
    const memory = opts.memoryDir === undefined ? "/dev/shm" : opts.memoryDir;
    const real = memory ? realish(memory) : null;
    this.#memoryDir = real && !this.#exclude.some((e) => isInside(real, e)) ? real : null;
  }

  /** The per-run root (mode 0700), made on first use. */
  root(): Promise<string> {
    this.#root ??= this.#makeRoot(this.#tempDir);
    return this.#root;
  }

  /** Every root made so far (the disk one, and the memory one once a home is kept there). */
  async roots(): Promise<string[]> {
    const made = [this.#root, this.#memoryRoot].map((r) => (r ? r.catch(() => null) : null));
    return (await Promise.all(made)).filter((r): r is string => r !== null);
  }

  /**
   * True when the memory directory is a tmpfs with at least `bytes` free: a home there costs no
   * disk to restore a cache into and to remove.
   */
  async memoryRoom(bytes: number): Promise<boolean> {
    if (!this.#memoryDir) return false;
    const st = await statfs(this.#memoryDir).catch(() => null);
    return !!st && st.type === TMPFS_MAGIC && st.bavail * st.bsize >= bytes;
  }

  async #makeRoot(parent: string): Promise<string> {
    // Homes a killed run left in memory go too, whichever root this run makes first.
    await Promise.all([
      sweepStaleRoots(parent),
      this.#memoryDir && sweepStaleRoots(this.#memoryDir),
    ]);
    const dir = await mkdtemp(path.join(parent, "airlock-"));
    this.#made.add(dir);
    if (this.#made.size === 1) process.on("exit", this.#onExit);
    await chmod(dir, 0o700);
    await writeFile(path.join(dir, OWNER), `${OWN_ID}\n`, { mode: 0o600 });
    await mkdir(path.join(dir, "jobs"), { mode: 0o700 });
    return dir;
  }

  async create(
    source: CheckoutSource,
    jobId: string,
    opts: { home?: boolean } = {},
  ): Promise<Workspace> {
    const root = await this.root();
    const name = `${dirSafe(jobId)}-${randomBytes(4).toString("hex")}`;
    const base = path.join(root, "jobs", name);
    const ws: Workspace = {
      src: base,
      home: null,
      homeInMemory: false,
      script: opts.home ? `${base}.sh` : null,
      addHome: async (inMemory) => {
        if (inMemory) this.#memoryRoot ??= this.#makeRoot(this.#memoryDir!);
        const dir = inMemory ? await this.#memoryRoot! : root;
        const home = path.join(dir, "jobs", `${name}.home`);
        await mkdir(home, { mode: 0o700 });
        ws.home = home;
        ws.homeInMemory = inMemory;
      },
      remove: async () => {
        await removeTree(base);
        if (ws.home) await removeTree(ws.home);
        if (ws.script) await rm(ws.script, { force: true });
      },
    };
    try {
      if (opts.home) await ws.addHome(false);
      if (source.kind === "commit") {
        await copyTree(await this.#commit(source.repoDir, source.sha), base);
      } else {
        await this.#copyWorkingTree(source.dir, base, source.includeIgnored ?? false);
        await chmod(base, 0o700);
      }
    } catch (e) {
      await ws.remove();
      throw e;
    }
    return ws;
  }

  /** Removes every workspace and the commit cache. */
  async close(): Promise<void> {
    const roots = await this.roots();
    this.#root = null;
    this.#memoryRoot = null;
    this.#commits.clear();
    for (const root of roots) await removeTree(root);
    this.#made.clear();
    process.off("exit", this.#onExit);
  }

  #commit(repoDir: string, sha: string): Promise<Tree> {
    if (!SHA.test(sha)) {
      throw new WorkspaceError(`${JSON.stringify(sha)} is not a full commit SHA (40 hex digits)`);
    }
    const key = `${realish(repoDir)}\0${sha}`;
    let tree = this.#commits.get(key);
    if (!tree) {
      tree = this.#materialise(repoDir, sha, key);
      // A failed checkout is not cached: the next job gets the same clear error, freshly.
      tree.catch(() => this.#commits.delete(key));
      this.#commits.set(key, tree);
    }
    return tree;
  }

  async #materialise(repoDir: string, sha: string, key: string): Promise<Tree> {
    const root = await this.root();
    const name = createHash("sha256").update(key).digest("hex").slice(0, 16);
    const dest = path.join(root, "commits", name);
    await mkdir(dest, { recursive: true, mode: 0o700 });
    // A private index: the repository's own index and working tree are never touched.
    const env = { ...gitEnv(), GIT_INDEX_FILE: path.join(root, "commits", `${name}.index`) };
    try {
      await git(repoDir, ["read-tree", `${sha}^{commit}`], env);
    } catch (e) {
      throw new WorkspaceError(
        `commit ${sha} is not in the git repository at ${repoDir}: ${(e as Error).message}`,
      );
    }
    try {
      await git(repoDir, ["checkout-index", "--all", "--force", `--prefix=${dest}/`], env);
    } catch (e) {
      throw new WorkspaceError(`cannot check out commit ${sha}: ${(e as Error).message}`);
    }
    await rm(env.GIT_INDEX_FILE, { force: true });
    return listTree(dest);
  }

  async #copyWorkingTree(dir: string, dest: string, includeIgnored: boolean): Promise<void> {
    let from: string;
    try {
      from = await realpath(dir);
    } catch {
      throw new WorkspaceError(`the working tree ${dir} does not exist`);
    }
    const root = await this.root();
    const skip = [...this.#exclude, root];
    for (const s of skip) {
      if (isInside(from, s)) {
        throw new WorkspaceError(`the working tree ${dir} is inside ${s}, which jobs must not see`);
      }
    }
    // What git would commit with `git add -A`: tracked and untracked files, not ignored ones.
    const wanted = includeIgnored ? null : await workingTreeFiles(from);
    await cp(from, dest, {
      recursive: true,
      verbatimSymlinks: true,
      errorOnExist: true,
      filter: async (src) => {
        if (src !== from && path.basename(src) === ".git") return false;
        if (wanted && src !== from && !wanted.has(path.relative(from, src))) return false;
        if (skip.some((s) => isInside(src, s))) return false;
        // Sockets, FIFOs and devices are not part of a project (and cannot be copied).
        const st = await lstat(src);
        return st.isFile() || st.isDirectory() || st.isSymbolicLink();
      },
    });
  }
}

// ---- roots left by a run that was killed ----------------------------------------------------

/** The file naming the process that owns a workspace root: "pid start-time". */
const OWNER = "owner";
const OWN_ID = processId(process.pid);
const swept = new Map<string, Promise<number>>();

/** "pid start-time" of a live process (the start time tells a reused pid apart), or null. */
function processId(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const start = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
    return `${pid} ${start}`;
  } catch {
    return null;
  }
}

/**
 * Removes the workspace roots in `dir` whose owner is gone: what a killed `airlock run` or
 * gateway left behind (a clean end removes its own). Once per directory and process; returns
 * how many were removed.
 */
export function sweepStaleRoots(dir: string): Promise<number> {
  let p = swept.get(dir);
  if (!p) {
    p = (async () => {
      let n = 0;
      for (const name of await readdir(dir).catch(() => [] as string[])) {
        if (!name.startsWith("airlock-")) continue;
        const root = path.join(dir, name);
        const owner = (await readFile(path.join(root, OWNER), "utf8").catch(() => "")).trim();
        const pid = /^(\d+) \d+$/.exec(owner)?.[1];
        // A root without an owner file is not known to be ours, or is being made: left alone.
        if (!pid || processId(Number(pid)) === owner) continue;
        await removeTree(root).then(
          () => n++,
          () => {},
        );
      }
      return n;
    })();
    swept.set(dir, p);
  }
  return p;
}

/** A materialised commit and its entries, listed once so that each job's copy is a flat loop. */
interface Tree {
  root: string;
  entries: TreeEntry[];
  /** Directories grouped by depth, shallowest first. */
  dirLevels: TreeEntry[][];
}

interface TreeEntry {
  rel: string;
  kind: "dir" | "file" | "link";
  mode: number;
  target?: string;
}

async function listTree(root: string): Promise<Tree> {
  const entries: TreeEntry[] = [];
  const dirLevels: TreeEntry[][] = [];
  const walk = async (rel: string, depth: number) => {
    for (const e of await readdir(path.join(root, rel), { withFileTypes: true })) {
      const r = path.join(rel, e.name);
      const st = await lstat(path.join(root, r));
      if (e.isDirectory()) {
        const dir: TreeEntry = { rel: r, kind: "dir", mode: st.mode & 0o7777 };
        dirLevels[depth] ??= [];
        dirLevels[depth].push(dir);
        await walk(r, depth + 1);
      } else if (e.isSymbolicLink()) {
        entries.push({ rel: r, kind: "link", mode: 0, target: await readlink(path.join(root, r)) });
      } else if (e.isFile()) {
        entries.push({ rel: r, kind: "file", mode: st.mode & 0o7777 });
      }
    }
  };
  await walk("", 0);
  return { root, entries, dirLevels };
}

/**
 * Copies a listed tree: directories level by level, then files and links, each level in parallel
 * (on a disk every create costs a round trip; the thread pool overlaps them). Files are copied,
 * never linked: a job may change its checkout in place.
 */
async function copyTree(tree: Tree, dest: string): Promise<void> {
  await mkdir(dest, { mode: 0o700 });
  for (const level of tree.dirLevels) {
    await Promise.all(level.map((e) => mkdir(path.join(dest, e.rel), { mode: e.mode })));
  }
  await Promise.all(
    tree.entries.map((e) =>
      e.kind === "file"
        ? copyFile(path.join(tree.root, e.rel), path.join(dest, e.rel))
        : e.kind === "link"
          ? symlink(e.target!, path.join(dest, e.rel))
          : null,
    ),
  );
}

/**
 * The files of a working tree that git does not ignore (tracked, or untracked and not ignored),
 * with every directory that leads to one, as paths relative to `dir`.
 */
async function workingTreeFiles(dir: string): Promise<Set<string>> {
  const out = await new Promise<string>((resolve, reject) => {
    execFile(
      "git",
      ["-C", dir, "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
      { env: gitEnv(), maxBuffer: 256 << 20 },
      (err, stdout, stderr) =>
        err
          ? reject(
              new WorkspaceError(
                `cannot list the working tree's files: ${String(stderr).trim() || err.message}`,
              ),
            )
          : resolve(stdout),
    );
  });
  const files = new Set<string>();
  for (const f of out.split("\0")) {
    if (!f) continue;
    // git names files with "/" whatever the platform; every parent directory is wanted too.
    for (let p = path.normalize(f); p !== "." && !files.has(p); p = path.dirname(p)) files.add(p);
  }
  return files;
}

/** The environment for git: ours, minus anything that would redirect it to another repository. */
function gitEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("GIT_")) env[k] = v;
  return env;
}

function git(cwd: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile("git", ["-C", cwd, ...args], { env, maxBuffer: 1 << 20 }, (err, _out, stderr) => {
      if (!err) return resolve();
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT")
        return reject(new Error("git is not installed: apt-get install -y git"));
      const first = String(stderr).trim().split("\n")[0];
      reject(new Error(first || err.message));
    });
  });
}

/** rm -rf, also through directories a job made read-only. */
export async function removeTree(dir: string): Promise<void> {
  try {
    await rm(dir, { recursive: true, force: true, maxRetries: 2 });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== "EACCES" && code !== "EPERM") throw e;
    await makeWritable(dir);
    await rm(dir, { recursive: true, force: true, maxRetries: 2 });
  }
}

async function makeWritable(dir: string): Promise<void> {
  await chmod(dir, 0o700).catch(() => {});
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) if (e.isDirectory()) await makeWritable(path.join(dir, e.name));
}
