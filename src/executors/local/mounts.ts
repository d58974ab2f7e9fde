// What of the host a sandbox may see beyond its system directories: the run's read-only mounts,
// checked against the paths no job may see, and empty tmpfs masks over private paths that sit
// inside an exposed system directory.
import path from "node:path";
import type { JobRequest } from "../types.js";
import { badMountTarget } from "./bwrap-args.js";
import { JobSetupError } from "./job-text.js";
import type { HostLayout } from "./layout.js";
import { isInside, realish } from "./paths.js";

/** The mounts, sources resolved, or a JobSetupError naming the first that would expose too much. */
export function checkMounts(
  mounts: JobRequest["mounts"],
  hidden: string[],
  workspaceRoots: string[],
): JobRequest["mounts"] {
  return mounts.map((m) => {
    const bad = badMountTarget(m.target);
    if (bad) throw new JobSetupError(`mount target ${m.target} ${bad}`);
    const src = realish(m.source);
    // A subdirectory of the data directory may be granted explicitly; the directory may not.
    for (const h of [...hidden, ...workspaceRoots.map(realish)]) {
      if (isInside(h, src)) throw new JobSetupError(`mount ${m.source} would expose ${h}`);
    }
    if (workspaceRoots.some((r) => isInside(src, realish(r)))) {
      throw new JobSetupError(`mount ${m.source} is inside the workspaces of other jobs`);
    }
    return { source: src, target: m.target };
  });
}

/** Sandbox paths to cover with an empty tmpfs: the hidden paths inside exposed directories. */
export function masksFor(hidden: string[], layout: HostLayout): string[] {
  const masks: string[] = [];
  for (const h of hidden) {
    for (const e of layout.exposed) {
      if (isInside(e.real, h)) {
        throw new JobSetupError(`${e.target} would expose ${h}, which jobs must not see`);
      }
      if (isInside(h, e.real)) masks.push(path.join(e.target, path.relative(e.real, h)));
    }
  }
  return masks;
}
