// Finding the cgroups that jobs can be put in: cgroup v2's delegated subtree (Airlock moves itself
// to a leaf `airlock` of its own cgroup and makes jobs under `jobs/`), or cgroup v1's memory,
// pids and cpu hierarchies (jobs under `airlock-jobs/` of Airlock's own cgroup in each).
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { CgroupHost, CONTROLLERS, type Controller, makeDir, readText, reason } from "./cgroup.js";

/** Where to look: the real /proc and mounts, or a layout a test made. */
export interface ProbeOptions {
  /** Directory holding `self/cgroup` and `self/mountinfo` (default /proc). */
  proc?: string;
  /** Airlock's pid (default: this process). */
  pid?: number;
}

export type CgroupProbe =
  | { ok: true; host: CgroupHost; message: string }
  | { ok: false; version: 1 | 2 | null; message: string };

interface Mount {
  point: string;
  fstype: string;
  /** Super options: for cgroup v1, the controllers of the hierarchy ("rw,memory"). */
  options: string[];
}

/** Mounts from /proc/self/mountinfo (fields: … mount-point … - fstype source super-options). */
export function parseMountinfo(text: string): Mount[] {
  const out: Mount[] = [];
  for (const line of text.split("\n")) {
    const f = line.split(" ");
    const dash = f.indexOf("-");
    if (dash < 0 || f.length < dash + 4) continue;
    out.push({
      point: unescapeMount(f[4]!),
      fstype: f[dash + 1]!,
      options: f[dash + 3]!.split(","),
    });
  }
  return out;
}

const unescapeMount = (s: string) =>
  s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));

/** /proc/self/cgroup: "0::/path" (v2) and "N:ctl1,ctl2:/path" (v1), by controller list. */
export function parseProcCgroup(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split("\n")) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line);
    if (m) out.set(m[1]!, m[2]!);
  }
  return out;
}

/**
 * Finds the cgroups jobs can be limited with, and prepares them (v2: Airlock moves itself to a
 * leaf and enables the controllers for its children). Says what is missing, and the fix.
 */
export async function probeCgroups(opts: ProbeOptions = {}): Promise<CgroupProbe> {
  const proc = opts.proc ?? "/proc";
  const pid = opts.pid ?? process.pid;
  let mounts: Mount[];
  let own: Map<string, string>;
  try {
    mounts = parseMountinfo(await readFile(path.join(proc, "self", "mountinfo"), "utf8"));
    own = parseProcCgroup(await readFile(path.join(proc, "self", "cgroup"), "utf8"));
  } catch (e) {
    return { ok: false, version: null, message: `cannot read ${proc}/self: ${reason(e)}` };
  }
  const v2 = mounts.find((m) => m.fstype === "cgroup2");
  const v2Path = own.get("");
  // A cgroup2 mount that holds the controllers is the unified hierarchy (hybrid hosts also
  // mount an empty one beside their v1 hierarchies).
  if (v2 && v2Path !== undefined) {
    const dir = path.join(v2.point, v2Path);
    const available = (await readText(path.join(dir, "cgroup.controllers"))).split(/\s+/);
    if (available.includes("memory") || available.includes("pids")) {
      return probeV2(dir, available, pid);
    }
  }
  return probeV1(mounts, own);
}

const V2_FIX =
  "run Airlock as a systemd service with Delegate=yes (docs/operations.md), or start it with `systemd-run --scope -p Delegate=yes`";

async function probeV2(own: string, available: string[], pid: number): Promise<CgroupProbe> {
  const want = CONTROLLERS.filter((c) => available.includes(c));
  const missing = CONTROLLERS.filter((c) => !available.includes(c));
  if (!want.includes("memory") || !want.includes("pids")) {
    return {
      ok: false,
      version: 2,
      message: `cgroup v2: Airlock's cgroup ${own} was given no ${missing.join(" or ")} controller: ${V2_FIX}`,
    };
  }
  const enable = want.map((c) => `+${c}`).join(" ");
  try {
    const self = path.join(own, "airlock");
    const procs = (await readText(path.join(own, "cgroup.procs"))).split("\n").filter(Boolean);
    const inLeaf = (await readText(path.join(self, "cgroup.procs"))).split("\n").includes(`${pid}`);
    if (!inLeaf) {
      // Only a cgroup of our own can be split: processes may not sit beside child cgroups.
      const others = procs.filter((p) => p !== `${pid}`);
      if (others.length > 0) {
        return {
          ok: false,
          version: 2,
          message: `cgroup v2: Airlock shares its cgroup ${own} with ${others.length} other process${others.length === 1 ? "" : "es"}, so it cannot make job cgroups there: ${V2_FIX}`,
        };
      }
      await mkdir(self, { recursive: true });
      await writeFile(path.join(self, "cgroup.procs"), `${pid}\n`);
    }
    await writeFile(path.join(own, "cgroup.subtree_control"), enable);
    const jobs = path.join(own, "jobs");
    await mkdir(jobs, { recursive: true });
    await writeFile(path.join(jobs, "cgroup.subtree_control"), enable);
    const parents = Object.fromEntries(want.map((c) => [c, jobs]));
    return {
      ok: true,
      host: new CgroupHost(2, parents),
      message: `cgroup v2 at ${jobs} (${want.join(", ")})${missing.length ? `; no ${missing.join(", ")} controller` : ""}`,
    };
  } catch (e) {
    return {
      ok: false,
      version: 2,
      message: `cgroup v2: cannot make job cgroups under ${own}: ${reason(e)}; ${V2_FIX}`,
    };
  }
}

async function probeV1(mounts: Mount[], own: Map<string, string>): Promise<CgroupProbe> {
  const parents: Partial<Record<Controller, string>> = {};
  const problems: string[] = [];
  for (const c of CONTROLLERS) {
    const m = mounts.find((x) => x.fstype === "cgroup" && x.options.includes(c));
    const at = [...own.entries()].find(([k]) => k.split(",").includes(c))?.[1];
    if (!m || at === undefined) {
      problems.push(`no ${c} hierarchy`);
      continue;
    }
    const parent = path.join(m.point, at, "airlock-jobs");
    try {
      // Made to prove it can be, and kept (see remove).
      await makeDir(parent);
      parents[c] = parent;
    } catch (e) {
      problems.push(`${c}: cannot write ${path.dirname(parent)} (${reason(e)})`);
    }
  }
  const have = CONTROLLERS.filter((c) => parents[c]);
  if (!parents.memory || !parents.pids) {
    const none = mounts.every((m) => m.fstype !== "cgroup");
    return {
      ok: false,
      version: none ? null : 1,
      message: none
        ? "no cgroup hierarchy is mounted: mount cgroup2 at /sys/fs/cgroup (systemd does)"
        : `cgroup v1: ${problems.join("; ")}: Airlock needs the memory and pids hierarchies, writable (run it as root, or on cgroup v2 with Delegate=yes)`,
    };
  }
  return {
    ok: true,
    host: new CgroupHost(1, parents),
    message: `cgroup v1 (${have.join(", ")})${problems.length ? `; ${problems.join("; ")}` : ""}`,
  };
}
