// A cgroup2 layout made file by file, as the kernel shows it, for the v2 code path on machines
// whose own hierarchy is v1.
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";

export interface V2LayoutOptions {
  /** What cgroup.controllers lists (default: everything a delegated cgroup has). */
  controllers?: string;
  /** The pids in Airlock's cgroup (default: Airlock's alone, 4242). */
  procs?: number[];
}

let layouts = 0;

/**
 * A cgroup2 layout as the kernel shows it: /proc/self/{mountinfo,cgroup} and Airlock's own
 * cgroup `system.slice/airlock.service` with the files a delegated one has.
 */
export function makeV2Layout(dir: string, o: V2LayoutOptions = {}) {
  const root = path.join(dir, `v2-${++layouts}`);
  const mount = path.join(root, "sys", "fs", "cgroup");
  const own = path.join(mount, "system.slice", "airlock.service");
  mkdirSync(path.join(root, "proc", "self"), { recursive: true });
  mkdirSync(own, { recursive: true });
  writeFileSync(
    path.join(root, "proc", "self", "mountinfo"),
    [
      "22 1 0:21 / / rw,relatime - ext4 /dev/vda rw",
      `35 24 0:30 / ${mount} rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot`,
    ].join("\n"),
  );
  writeFileSync(path.join(root, "proc", "self", "cgroup"), "0::/system.slice/airlock.service\n");
  writeFileSync(
    path.join(own, "cgroup.controllers"),
    `${o.controllers ?? "cpuset cpu io memory hugetlb pids rdma misc"}\n`,
  );
  writeFileSync(path.join(own, "cgroup.subtree_control"), "");
  writeFileSync(path.join(own, "cgroup.procs"), (o.procs ?? [4242]).map((p) => `${p}\n`).join(""));
  return { proc: path.join(root, "proc"), own };
}
