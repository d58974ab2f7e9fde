// Where job workspaces are made: there, writable, outside the data directory, and with room.
import { accessSync, constants, existsSync } from "node:fs";
import { realish } from "../../executors/local/paths.js";
import { WorkspaceError, Workspaces, workspaceTempDir } from "../../executors/local/workspace.js";
import { filesystemOf } from "./datadir.js";
import { bytes, type DoctorCheck, type DoctorContext, fail, LOW_SPACE, ok, warn } from "./types.js";

const subject = "workspaces";
const MOVE = "set AIRLOCK_WORKSPACES (or TMPDIR) to another directory";

export function checkWorkspaces(ctx: DoctorContext): DoctorCheck[] {
  const dir = realish(workspaceTempDir(ctx.env));
  try {
    // The executor's own rule: no workspace inside the data directory, which jobs must not see.
    new Workspaces({ tempDir: dir, exclude: [ctx.dataDir] });
  } catch (e) {
    if (e instanceof WorkspaceError) return [fail(subject, e.message)];
    throw e;
  }
  if (!existsSync(dir)) {
    return [fail(subject, `${dir} does not exist: create it, or ${MOVE}`)];
  }
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch (e) {
    return [
      fail(
        subject,
        `${dir} is not writable (${(e as NodeJS.ErrnoException).code}): jobs cannot get a checkout; ${MOVE}`,
      ),
    ];
  }
  const fs = filesystemOf(dir);
  const kind = fs.tmpfs ? "tmpfs, in memory" : "on disk";
  return [
    fs.free < LOW_SPACE
      ? warn(
          subject,
          `${dir} (${kind}) has only ${bytes(fs.free)} free: checkouts may not fit; ${MOVE} with more room`,
        )
      : ok(subject, `${dir} (${kind}, ${bytes(fs.free)} free)`),
  ];
}
