// The cgroup module: the v2 path against a cgroup2 layout made here (file by file, as the kernel
// shows it), and the v1 path against this machine's real hierarchies.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { CgroupHost, cgroupName } from "../../../src/executors/local/cgroup.js";
import {
  parseMountinfo,
  parseProcCgroup,
  probeCgroups,
} from "../../../src/executors/local/cgroup-probe.js";
import { makeV2Layout, type V2LayoutOptions } from "./cgroup-layout.js";
import { tempDir } from "./helpers.js";

const t = tempDir("airlock-cgroup-test-");
after(() => t.cleanup());
const GiB = 1024 ** 3;
const v2Layout = (o: V2LayoutOptions = {}) => makeV2Layout(t.dir, o);

const read = (...p: string[]) => readFileSync(path.join(...p), "utf8");

describe("cgroup v2 (a layout made by the test)", () => {
  it("moves Airlock to a leaf, enables the controllers, makes jobs with their limits and reads their counters", async () => {
    const { proc, own } = v2Layout();
    const probe = await probeCgroups({ proc, pid: 4242 });
    assert.ok(probe.ok, probe.message);
    assert.equal(probe.host.version, 2);
    assert.deepEqual(probe.host.controllers, ["memory", "pids", "cpu"]);
    // Processes may not sit beside child cgroups in v2: Airlock moved itself to a leaf.
    assert.equal(read(own, "airlock", "cgroup.procs"), "4242\n");
    assert.equal(read(own, "cgroup.subtree_control"), "+memory +pids +cpu");
    assert.equal(read(own, "jobs", "cgroup.subtree_control"), "+memory +pids +cpu");
    assert.match(probe.message, /^cgroup v2 at .*\/jobs \(memory, pids, cpu\)$/);

    const name = cgroupName("lint", 4242);
    const job = await probe.host.create(name, { memoryBytes: 2 * GiB, processes: 64, cpus: 0.5 });
    const dir = path.join(own, "jobs", name);
    assert.deepEqual(job.procsFiles, [path.join(dir, "cgroup.procs")]);
    assert.equal(read(dir, "memory.max"), `${2 * GiB}\n`);
    assert.equal(read(dir, "memory.swap.max"), "0\n", "no swap");
    assert.equal(read(dir, "pids.max"), "64\n");
    assert.equal(read(dir, "cpu.max"), "50000 100000\n");

    // The kernel's event counters name what ended a job.
    assert.deepEqual(await job.counters(), { oomKills: 0, pidsRefused: 0 });
    writeFileSync(path.join(dir, "memory.events"), "low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\n");
    writeFileSync(path.join(dir, "pids.events"), "max 7\n");
    assert.deepEqual(await job.counters(), { oomKills: 1, pidsRefused: 7 });
    await job.remove();
    assert.ok(!existsSync(dir));
  });

  it("a second probe (Airlock already in its leaf) succeeds again", async () => {
    const { proc } = v2Layout();
    assert.ok((await probeCgroups({ proc, pid: 4242 })).ok);
    assert.ok((await probeCgroups({ proc, pid: 4242 })).ok);
  });

  it("refuses a cgroup shared with other processes, naming Delegate=yes", async () => {
    const { proc, own } = v2Layout({ procs: [4242, 1, 77] });
    const probe = await probeCgroups({ proc, pid: 4242 });
    assert.equal(probe.ok, false);
    assert.match(probe.message, /shares its cgroup .* with 2 other processes/);
    assert.match(probe.message, /Delegate=yes/);
    assert.ok(!existsSync(path.join(own, "airlock")), "nothing was moved or made");
  });

  it("refuses a cgroup without the memory or pids controller", async () => {
    const { proc } = v2Layout({ controllers: "cpu io memory" });
    const probe = await probeCgroups({ proc, pid: 4242 });
    assert.equal(probe.ok, false);
    assert.match(
      probe.message,
      /no pids controller: run Airlock as a systemd service with Delegate=yes/,
    );
  });

  it("sweeps job cgroups whose owner is gone, and only those", async () => {
    const { proc, own } = v2Layout();
    const probe = await probeCgroups({ proc, pid: 4242 });
    assert.ok(probe.ok);
    const dead = spawnSync("true").pid!; // a pid that no longer runs
    const stale = await probe.host.create(cgroupName("old", dead), { processes: 64 });
    const mine = await probe.host.create(cgroupName("new"), { processes: 64 });
    assert.equal(await probe.host.sweep(), 1);
    assert.ok(!existsSync([...stale.dirs.keys()][0]!));
    assert.ok(existsSync([...mine.dirs.keys()][0]!));
    await mine.remove();
    assert.ok(existsSync(path.join(own, "jobs")));
  });
});

describe("cgroup v1 parents shared by several Airlock processes (directories made by the test)", () => {
  it("a job's cgroup is made even while another process removes the parent it found empty", async () => {
    // Three processes (replicas, `airlock run`) each make and remove 1500 job cgroups under the
    // same parents, each also removing a parent it finds empty, as older Airlock releases did on
    // v1 (a replica not yet upgraded): the parents stay now, but a job must not fail either way.
    const root = path.join(t.dir, "v1-shared");
    const module = fileURLToPath(
      new URL("../../../src/executors/local/cgroup.ts", import.meta.url),
    );
    const script = `
      import { rmdir } from "node:fs/promises";
      import { CgroupHost } from ${JSON.stringify(module)};
      const host = new CgroupHost(1, {
        memory: ${JSON.stringify(path.join(root, "memory", "airlock-jobs"))},
        pids: ${JSON.stringify(path.join(root, "pids", "airlock-jobs"))},
      });
      const failures = [];
      for (let i = 0; i < 1500; i++) {
        try {
          await host.remove(await host.create(process.pid + "-" + i, { memoryBytes: 1 << 26, processes: 16 }));
          for (const p of Object.values(host.parents)) await rmdir(p).catch(() => {});
        } catch (e) {
          failures.push(String(e));
        }
      }
      console.log(JSON.stringify(failures));`;
    const one = () =>
      new Promise<string[]>((resolve, reject) => {
        const child = spawn(process.execPath, [
          "--import",
          "tsx",
          "--input-type=module",
          "-e",
          script,
        ]);
        let out = "";
        child.stdout.on("data", (d: Buffer) => {
          out += d.toString();
        });
        child.stderr.pipe(process.stderr);
        child.on("error", reject);
        child.on("exit", () => resolve(JSON.parse(out || "null") as string[]));
      });
    const failures = (await Promise.all([one(), one(), one()])).flat();
    assert.deepEqual(failures, []);
  });

  it("removing a job's cgroup keeps the shared parents, which other processes may be using", async () => {
    const root = path.join(t.dir, "v1-kept");
    const parents = {
      memory: path.join(root, "memory", "airlock-jobs"),
      pids: path.join(root, "pids", "airlock-jobs"),
    };
    const host = new CgroupHost(1, parents);
    const job = await host.create("kept-1", { memoryBytes: 1 << 26, processes: 16 });
    await host.remove(job);
    for (const dir of job.dirs.keys()) assert.ok(!existsSync(dir), `${dir} removed`);
    for (const p of Object.values(parents)) assert.ok(existsSync(p), `${p} kept`);
  });
});

describe("parsing /proc", () => {
  it("reads mount points (escaped), types and super options", () => {
    const m = parseMountinfo(
      "30 25 0:26 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory\n" +
        "31 25 0:27 / /mnt/with\\040space rw - cgroup2 cgroup2 rw\n",
    );
    assert.deepEqual(m, [
      { point: "/sys/fs/cgroup/memory", fstype: "cgroup", options: ["rw", "memory"] },
      { point: "/mnt/with space", fstype: "cgroup2", options: ["rw"] },
    ]);
  });

  it("reads each hierarchy's path", () => {
    const c = parseProcCgroup("4:memory:/a/b\n2:cpu,cpuacct:/\n0::/system.slice/x.service\n");
    assert.equal(c.get("memory"), "/a/b");
    assert.equal(c.get("cpu,cpuacct"), "/");
    assert.equal(c.get(""), "/system.slice/x.service");
  });
});

describe("cgroup v1 (this machine)", () => {
  it("makes a job's cgroup in each hierarchy with its limits, and removes it", async () => {
    const probe = await probeCgroups();
    assert.ok(probe.ok, probe.message);
    assert.equal(probe.host.version, 1);
    const name = cgroupName("v1-probe");
    const job = await probe.host.create(name, {
      memoryBytes: 256 * 1024 ** 2,
      processes: 64,
      cpus: 0.25,
    });
    try {
      const dir = (c: string) => [...job.dirs].find(([, cs]) => cs.includes(c as never))![0];
      assert.equal(read(dir("memory"), "memory.limit_in_bytes").trim(), String(256 * 1024 ** 2));
      assert.equal(read(dir("pids"), "pids.max").trim(), "64");
      assert.equal(read(dir("cpu"), "cpu.cfs_quota_us").trim(), "25000");
      assert.equal(read(dir("cpu"), "cpu.cfs_period_us").trim(), "100000");
      assert.equal(job.procsFiles.length, 3);
      assert.deepEqual(await job.counters(), { oomKills: 0, pidsRefused: 0 });
    } finally {
      await probe.host.remove(job);
    }
    for (const d of job.dirs.keys()) assert.ok(!existsSync(d));
  });
});
