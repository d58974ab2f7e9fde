// Can a job with a network allow list get its egress proxy here: the sandbox under a user
// namespace of Airlock's own, nsenter into it, the helper binding the proxy's sockets. Checked by
// running one such no-op job, only when the pipeline has one.
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { PassThrough } from "node:stream";
import type { Config } from "../../config/schema.js";
import { LocalExecutor } from "../../executors/local/executor.js";
import { type DoctorCheck, fail, ok } from "./types.js";

/** Jobs of the pipeline with `network: { ... }`. */
function egressJobs(config: Config | undefined): string[] {
  return Object.entries(config?.jobs ?? {})
    .filter(([, j]) => typeof j.network === "object")
    .map(([name]) => name);
}

export async function checkEgress(config: Config | undefined): Promise<DoctorCheck[]> {
  const jobs = egressJobs(config);
  if (jobs.length === 0) return [];
  const dir = mkdtempSync(path.join(tmpdir(), "airlock-doctor-egress-"));
  const [src, workspaces] = [path.join(dir, "src"), path.join(dir, "ws")];
  for (const d of [src, workspaces]) mkdirSync(d);
  const executor = new LocalExecutor({ tempDir: workspaces });
  try {
    const output = new PassThrough().resume();
    const r = await executor.run({
      runId: "doctor",
      job: {
        id: "doctor-egress",
        run: "true",
        secrets: [],
        timeoutMs: 60_000,
        network: false,
        egress: { allow: ["doctor.invalid"], audit: false },
        reports: [],
      },
      checkout: { kind: "dirty", dir: src, includeIgnored: true },
      env: {},
      secretEnv: {},
      secretFiles: [],
      mounts: [],
      output,
      signal: new AbortController().signal,
    });
    return r.status === "passed"
      ? [
          ok(
            "egress",
            `a job with an allow list gets its egress proxy (used by ${jobs.join(", ")})`,
          ),
        ]
      : [
          fail(
            "egress",
            `${r.error ?? `a no-op job with an allow list ended ${r.status}`}: ${jobs.join(", ")} will not run (nsenter and unshare come from util-linux)`,
          ),
        ];
  } finally {
    await executor.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
