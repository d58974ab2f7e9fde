// `--no-sandbox`: a public job as a plain process of the user, in its workspace, under its limits.
import { writeFile } from "node:fs/promises";
import type { JobIO, JobRequest } from "../types.js";
import { JOB_COMMAND } from "./bwrap-args.js";
import { baseEnv, buildEnv } from "./env.js";
import { supervise } from "./process.js";
import type { JobProcess, ProcessEnd } from "./sandboxed.js";
import type { Workspace } from "./workspace.js";

export async function runUnsandboxed(
  req: JobRequest & JobIO,
  ws: Workspace,
  start: string,
  p: Omit<JobProcess, "workdir" | "mounts">,
): Promise<ProcessEnd> {
  const env = buildEnv(
    baseEnv({ sandbox: false, home: ws.home ?? ws.src, workspace: ws.src }),
    req.env,
    { AIRLOCK_WORKSPACE: ws.src },
  );
  // No secrets ever run here, so the script may sit on disk, beside the workspace.
  await writeFile(ws.script!, p.script, { mode: 0o400 });
  const [file, ...rest] = p.bounds.wrap([...p.limiter, ...JOB_COMMAND, ws.script!]) as [
    string,
    ...string[],
  ];
  const finished = await supervise(
    { file, args: rest, env, cwd: start, fds: [] },
    { ...p.sup, closeGraceMs: 500 },
  );
  return { finished, started: finished.end !== "spawn_failed", leftovers: null, egressError: null };
}
