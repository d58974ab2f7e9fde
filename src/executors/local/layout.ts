// What of the host a sandbox sees: system directories read-only, a private /etc holding copies of
// the few host files needed to run programs and talk TLS, and nothing else — no /root, no /home,
// no /var, no host /tmp.
import { existsSync, lstatSync, readdirSync, readlinkSync, statSync } from "node:fs";
import { cp, mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { isInside, realish } from "./paths.js";

/** Top-level directories that are either real (bound read-only) or merged-/usr symlinks. */
const SYSTEM_DIRS = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"];

/**
 * /etc entries a job may need, read-only. Deliberately absent: anything with credentials or
 * host identity (shadow, sudoers, ssh, npmrc, pip.conf, gitconfig, machine-id, hostname, hosts).
 */
const ETC_ALLOW = [
  "alternatives",
  "bash.bashrc",
  "ca-certificates",
  "ca-certificates.conf",
  "debian_version",
  "fonts",
  "gai.conf",
  "host.conf",
  "inputrc",
  "ld.so.cache",
  "ld.so.conf",
  "ld.so.conf.d",
  "locale.alias",
  "localtime",
  "magic",
  "magic.mime",
  "mime.types",
  "os-release",
  "profile",
  "protocols",
  "services",
  "ssl",
  "timezone",
];

/** Files made for the sandbox instead of the host's: a minimal user database and hosts file. */
// resolv.conf starts empty: a job with network gets the host's bound on top of it.
export const GENERATED_ETC: Record<string, string> = {
  passwd: [
    "root:x:0:0:root:/root:/usr/sbin/nologin",
    "airlock:x:1000:1000:airlock:/home/airlock:/bin/bash",
    "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin",
    "",
  ].join("\n"),
  group: "root:x:0:\nairlock:x:1000:\nnogroup:x:65534:\n",
  hosts: "127.0.0.1 localhost airlock\n::1 localhost ip6-localhost ip6-loopback\n",
  "nsswitch.conf":
    "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\nnetworks: files\nprotocols: files\nservices: files\n",
  hostname: "airlock\n",
  "resolv.conf": "",
};

export interface HostLayout {
  /** bwrap arguments that build the system part of the sandbox. */
  args: string[];
  /** bwrap arguments for the extra read-only paths (they go after /tmp, which may hold some). */
  extraArgs: string[];
  /** Host paths those arguments expose (real path, and where it appears in the sandbox). */
  exposed: { real: string; target: string }[];
}

/** The system part of every sandbox, computed once; `extra` host paths are bound read-only. */
export function systemLayout(extra: string[] = []): HostLayout {
  const args: string[] = [];
  const extraArgs: string[] = [];
  const exposed: HostLayout["exposed"] = [];
  for (const dir of SYSTEM_DIRS) {
    let st: ReturnType<typeof lstatSync>;
    try {
      st = lstatSync(dir);
    } catch {
      continue;
    }
    if (st.isSymbolicLink()) {
      args.push("--symlink", readlinkSync(dir), dir);
    } else if (st.isDirectory()) {
      args.push("--ro-bind", dir, dir);
      exposed.push({ real: realish(dir), target: dir });
    }
  }
  for (const p of extra) {
    const abs = path.resolve(p);
    if (!existsSync(abs)) continue;
    extraArgs.push("--ro-bind", abs, abs);
    exposed.push({ real: realish(abs), target: abs });
  }
  return { args, extraArgs, exposed };
}

export interface EtcLayout {
  /** Host directory to bind as the sandbox's /etc. */
  dir: string;
  /** Binds of allowed host /etc directories on top of it, and masks over their private parts. */
  args: string[];
  exposed: HostLayout["exposed"];
}

/**
 * Makes the sandbox's /etc in `dir`: the generated files, copies of the allowed host files, and
 * mount points for the allowed host directories, which are bound read-only (copying them would
 * cost hundreds of file creations per run). Anything in them that not every local user may read
 * (e.g. /etc/ssl/private) is masked: inside the sandbox the job owns what the user running
 * Airlock owns, so file modes alone would not keep it out.
 */
export async function prepareEtc(
  dir: string,
  hidden: string[],
  /** Extra names for /etc/hosts (name -> addresses), e.g. services on the host's loopback. */
  hosts: Record<string, string[]> = {},
): Promise<EtcLayout> {
  const layout: EtcLayout = { dir, args: [], exposed: [] };
  await mkdir(dir, { mode: 0o755 });
  for (const name of ETC_ALLOW) {
    const p = path.join("/etc", name);
    let st: ReturnType<typeof lstatSync>;
    try {
      st = lstatSync(p);
    } catch {
      continue;
    }
    if (hidden.some((h) => isInside(realish(p), h) || isInside(h, realish(p)))) continue;
    if (st.isDirectory()) {
      await mkdir(path.join(dir, name));
      layout.args.push("--ro-bind", p, p);
      layout.exposed.push({ real: realish(p), target: p });
      for (const priv of privateEntries(p)) {
        layout.args.push(
          ...(priv.dir ? ["--tmpfs", priv.path] : ["--ro-bind", "/dev/null", priv.path]),
        );
      }
    } else if (worldReadable(p)) {
      await cp(p, path.join(dir, name), { verbatimSymlinks: true, dereference: false });
    }
  }
  const extraHosts = Object.entries(hosts).flatMap(([n, addrs]) => addrs.map((a) => `${a} ${n}\n`));
  for (const [name, content] of Object.entries(GENERATED_ETC)) {
    const text = name === "hosts" ? content + extraHosts.join("") : content;
    await writeFile(path.join(dir, name), text, { mode: 0o644 });
  }
  return layout;
}

/** Files and directories under `dir` that not every local user may read (links are skipped). */
function privateEntries(dir: string): { path: string; dir: boolean }[] {
  const out: { path: string; dir: boolean }[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isSymbolicLink()) continue;
    const p = path.join(dir, e.name);
    const mode = lstatSync(p).mode;
    if (e.isDirectory()) {
      if ((mode & 0o005) !== 0o005) out.push({ path: p, dir: true });
      else out.push(...privateEntries(p));
    } else if ((mode & 0o004) === 0) {
      out.push({ path: p, dir: false });
    }
  }
  return out;
}

function worldReadable(p: string): boolean {
  try {
    return (statSync(p).mode & 0o004) !== 0;
  } catch {
    return false;
  }
}
