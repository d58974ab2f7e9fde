// Can jobs get their memory, process and CPU limits here: which cgroup version and controllers
// Airlock can use (the same probe the local executor uses), and, when none can, whether that
// leaves `airlock serve` running public jobs from anyone without those limits.
import { type CgroupProbe, probeCgroups } from "../../executors/local/cgroup-probe.js";
import type { ServeConfig } from "../../gateway/serve-config.js";
import { servedConfig } from "./serve.js";
import { type DoctorCheck, type DoctorContext, fail, ok, warn } from "./types.js";

const subject = "cgroups";
const SWITCH = "limits.allow_unlimited_public_jobs";

export async function checkCgroups(
  ctx: DoctorContext,
  given?: string,
  probe: () => Promise<CgroupProbe> = probeCgroups,
): Promise<DoctorCheck[]> {
  const p = await probe();
  let serve: ServeConfig | null = null;
  try {
    serve = servedConfig(ctx, given);
  } catch {
    // A serve config that cannot be loaded is the serve check's finding.
  }
  const serves = serve !== null && !serve.embedded;
  const allowed = serve?.limits.allowUnlimitedPublicJobs ?? false;
  if (p.ok) {
    const out = [ok(subject, `${p.message}: every job gets its memory, process and CPU limits`)];
    if (serves && allowed) {
      out.push(
        warn(subject, `${SWITCH} is on, and not needed here: turn it off in the serve config`),
      );
    }
    return out;
  }
  if (!serves) {
    return [warn(subject, `${p.message}; jobs run here without memory, process or CPU limits`)];
  }
  if (allowed) {
    return [
      warn(
        subject,
        `${p.message}; public jobs run WITHOUT memory and process limits, as ${SWITCH} allows: a pull request from anyone can exhaust this machine's memory and processes`,
      ),
    ];
  }
  return [
    fail(
      subject,
      `${p.message}; until then airlock serve refuses public jobs, which would run without memory and process limits (or, knowingly, set ${SWITCH}: true in the serve config)`,
    ),
  ];
}
