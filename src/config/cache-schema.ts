// A job's `cache:` in .airlock.yml (see docs/configuration.md, "cache").
import { z } from "zod";
import { KEY_RE, keyTemplateProblem } from "../cache/key.js";
import { outsideWorkspace } from "./workspace-path.js";

/** Why a cached path is not acceptable, or null. "~/x" is in the job's home, else in the workspace. */
function cachePathProblem(p: string): string | null {
  if (p === "~") return "is the whole home directory: name a directory in it, e.g. ~/.npm";
  if (p.startsWith("~/")) {
    const rest = p.slice(2);
    if (rest === "" || rest === ".")
      return "is the whole home directory: name a directory in it, e.g. ~/.npm";
    return outsideWorkspace(rest)?.replace("workspace", "home directory") ?? null;
  }
  if (p === "." || p === "./")
    return "is the whole workspace: name a directory in it, e.g. node_modules";
  return outsideWorkspace(p);
}

export const CacheSchema = z
  .object({
    key: z
      .string()
      .min(1)
      .superRefine((k, ctx) => {
        const p = keyTemplateProblem(k);
        if (p) ctx.addIssue({ code: "custom", message: `cache key ${JSON.stringify(k)}: ${p}` });
      })
      .describe(
        'The entry\'s key, e.g. npm-{{ hash "package-lock.json" }} (hash: SHA-256 of files of the workspace).',
      ),
    restore_keys: z
      .array(
        z
          .string()
          .regex(KEY_RE, 'a restore key is a key prefix: letters, digits, ".", "_" and "-"'),
      )
      .default([])
      .describe(
        "Key prefixes tried in order when no entry has the key (the newest match wins), e.g. npm-.",
      ),
    paths: z
      .array(
        z
          .string()
          .min(1)
          .superRefine((p, ctx) => {
            const why = cachePathProblem(p);
            if (why) {
              ctx.addIssue({
                code: "custom",
                message: `cache paths must stay inside the workspace or the home directory: ${JSON.stringify(p)} ${why}; write e.g. node_modules or ~/.npm`,
              });
            }
          }),
      )
      .min(1, "a cache needs at least one path, e.g. ~/.npm")
      .describe("What is cached: directories relative to the job's directory, or ~/… in its home."),
  })
  .strict();
