// The companion test-suite repository and the optional mirror of pull-request heads.
import { z } from "zod";

const SET_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** Transports git may use for a suite or mirror URL; `ext::` and friends would run commands. */
const URL_HINT =
  "a git URL must be https://, http://, ssh://, git://, file:// or host:path (scp-like), without a password in it";

export function gitUrlProblem(url: string): string | null {
  if (url.startsWith("-")) return "a git URL cannot start with '-'";
  if (/[\s\x00-\x1f\x7f]/.test(url)) return "a git URL cannot contain spaces or control characters";
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(url);
  if (scheme) {
    const s = scheme[1]!.toLowerCase();
    if (!["https", "http", "ssh", "git", "file"].includes(s)) return URL_HINT;
    if (s === "file") return null;
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return URL_HINT;
    }
    if (parsed.password) {
      return "the URL carries a password: put the token in a secret set and name it in `credentials`";
    }
    return null;
  }
  if (url.includes("::")) return URL_HINT; // transport helpers such as ext::
  if (/^[A-Za-z0-9._-]+@?[A-Za-z0-9._-]*:[^/]/.test(url) || /^[A-Za-z0-9._@-]+:\//.test(url)) {
    return null; // scp-like host:path
  }
  return URL_HINT;
}

const GitUrl = z.string().superRefine((url, ctx) => {
  const problem = gitUrlProblem(url);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

const SetRef = z
  .string()
  .regex(
    SET_NAME_RE,
    'a secret set name must start with a letter or digit and use only letters, digits, "_", "." and "-"',
  );

const SandboxPath = z
  .string()
  .regex(/^\/[^\0]*$/, "the suite path must be absolute, e.g. /suite")
  .refine(
    (p) => !p.split("/").some((c) => c === ".." || c === "."),
    "the suite path cannot contain . or ..",
  )
  .refine((p) => p.replace(/\/+$/, "") !== "", "the suite path cannot be /");

export const SuiteSchema = z
  .object({
    /** Where the suite repository lives. */
    url: GitUrl,
    /** The ref used when no branch matches: a branch, a tag or a full commit SHA. */
    ref: z.string().min(1).default("main"),
    /** Use the suite's branch of the same name as the run's branch when it exists. */
    match_branch: z.boolean().default(false),
    /** Where the checkout appears (read-only) inside restricted jobs. */
    path: SandboxPath.default("/suite"),
    /** A secret set holding GIT_TOKEN (and optionally GIT_USERNAME) for a private suite. */
    credentials: SetRef.optional(),
  })
  .strict();

export const MirrorSchema = z
  .object({
    /** Where mirrored heads are pushed: a git URL, or "suite" for the suite repository. */
    remote: z.union([z.literal("suite"), GitUrl]),
    /** Branch name template; `{pr}` is the pull request number. */
    branch: z
      .string()
      .default("airlock/pr-{pr}")
      .refine((t) => t.includes("{pr}"), "the mirror branch template must contain {pr}"),
    /** A secret set holding GIT_TOKEN (and optionally GIT_USERNAME) allowed to push. */
    credentials: SetRef.optional(),
  })
  .strict();

export type SuiteConfig = z.infer<typeof SuiteSchema>;
export type MirrorConfig = z.infer<typeof MirrorSchema>;
