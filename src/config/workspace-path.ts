// Paths in .airlock.yml that name files of the job's workspace (reports, artifacts): relative to
// the job's directory, and never climbing out of the workspace.
import { z } from "zod";

/** Why `p` cannot name a file of the workspace, or null when it can. */
export function outsideWorkspace(p: string): string | null {
  if (p.includes("\0")) return "contains a NUL character";
  if (p.startsWith("/")) return "is absolute";
  if (p.startsWith("~")) return "starts with ~ (the home directory is not in the workspace)";
  if (p.split(/[\\/]/).includes("..")) return 'climbs out with ".."';
  return null;
}

/** A glob pattern relative to the job's directory, e.g. "reports/*.xml". */
export const workspaceGlob = (what: string, example: string) =>
  z
    .string()
    .min(1, `an empty ${what} path`)
    .superRefine((p, ctx) => {
      const why = outsideWorkspace(p);
      if (why) {
        ctx.addIssue({
          code: "custom",
          message: `${what} paths must stay inside the workspace: ${JSON.stringify(p)} ${why}; write it relative to the job's directory, e.g. ${example}`,
        });
      }
    });
