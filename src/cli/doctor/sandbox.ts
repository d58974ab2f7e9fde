// Can jobs be sandboxed here: bubblewrap present and working (the same probe `airlock run`
// uses), a job without network really without network, and, when bubblewrap cannot make a
// sandbox, which kernel setting forbids the user namespaces it needs.
import { readFileSync } from "node:fs";
import path from "node:path";
import type { Config } from "../../config/schema.js";
import {
  checkSandbox,
  firstLine,
  INSTALL_HINT,
  runInProbeSandbox,
} from "../../executors/local/check.js";
import { checkPrlimit } from "../../executors/local/rlimits.js";
import { restrictedJobsRunHere } from "./config.js";
import { type DoctorCheck, fail, ok, warn } from "./types.js";

export interface UserNamespaceLimit {
  setting: string;
  value: string;
  fix: string;
}

/** Kernel settings that forbid unprivileged user namespaces, as set on this machine. */
export function userNamespaceLimits(procSys = "/proc/sys"): UserNamespaceLimit[] {
  const read = (name: string) => {
    try {
      return readFileSync(path.join(procSys, ...name.split(".")), "utf8").trim();
    } catch {
      return undefined; // this kernel does not have the setting
    }
  };
  const out: UserNamespaceLimit[] = [];
  const limit = (setting: string, bad: string, fix: string) => {
    const value = read(setting);
    if (value === bad) out.push({ setting, value, fix });
  };
  limit(
    "kernel.apparmor_restrict_unprivileged_userns",
    "1",
    "give bwrap an AppArmor profile that allows `userns` (see docs/operations.md), or `sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`",
  );
  limit(
    "kernel.unprivileged_userns_clone",
    "0",
    "`sysctl -w kernel.unprivileged_userns_clone=1`, and the same line in /etc/sysctl.d/ to keep it",
  );
  limit(
    "user.max_user_namespaces",
    "0",
    "`sysctl -w user.max_user_namespaces=15000`, and the same line in /etc/sysctl.d/ to keep it",
  );
  return out;
}

/** Interface names a sandbox sees, from its /proc/net/dev. */
export function interfaces(procNetDev: string): string[] {
  return procNetDev
    .split("\n")
    .slice(2)
    .map((l) => l.split(":")[0]!.trim())
    .filter(Boolean);
}

export async function checkSandboxGroup(
  config: Config | undefined,
  procSys?: string,
): Promise<DoctorCheck[]> {
  // Every job, public or not, runs under prlimit with core dumps off; without it none runs.
  const p = await checkPrlimit();
  const core = p.ok
    ? ok("core dumps", `off for every job (${p.message})`)
    : fail("core dumps", `${p.message}; no job will run until it is`);
  return [core, ...(await checkBwrap(config, procSys))];
}

async function checkBwrap(config: Config | undefined, procSys?: string): Promise<DoctorCheck[]> {
  const c = await checkSandbox();
  if (!c.ok || !c.bwrap) {
    const limits = userNamespaceLimits(procSys);
    const why = limits.length
      ? `; this kernel forbids it: ${limits.map((l) => `${l.setting} = ${l.value} (fix: ${l.fix})`).join("; ")}`
      : "";
    // Without a sandbox, restricted jobs refuse to run; public ones can still run unsandboxed.
    const restricted = restrictedJobsRunHere(config);
    if (restricted === false) {
      return [
        warn(
          "sandbox",
          `${c.message}${why}; the pipeline has only public jobs, which can run unsandboxed on your own machine with \`airlock run --no-sandbox\``,
        ),
      ];
    }
    return [
      fail(
        "sandbox",
        `${c.message}${why}${restricted ? "; restricted jobs (those with secrets) will refuse to run" : ""}`,
      ),
    ];
  }
  const out = [ok("sandbox", c.message)];
  const net = await runInProbeSandbox(c.bwrap, "cat /proc/net/dev");
  const seen = interfaces(net.stdout);
  if (net.code !== 0 || seen.length === 0) {
    out.push(
      fail(
        "network",
        `cannot list the network interfaces inside a sandbox (${firstLine(net.stderr) || `exit ${net.code}`}): check that bwrap may mount /proc (see docs/operations.md, "What bubblewrap needs")`,
      ),
    );
  } else if (seen.some((i) => i !== "lo")) {
    out.push(
      fail(
        "network",
        `a sandbox without network still sees ${seen.filter((i) => i !== "lo").join(", ")}: jobs with \`network: false\` are not cut off; use a bwrap that supports --unshare-net (${INSTALL_HINT})`,
      ),
    );
  } else {
    out.push(ok("network", "a sandbox without network sees only lo"));
  }
  return out;
}
