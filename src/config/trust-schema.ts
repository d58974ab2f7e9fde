// The `trust:` section: who is trusted, what a bot's pull requests may run without an approval,
// and which changes need more than one approval.
import { z } from "zod";
import { Duration } from "./duration.js";

/** A GitHub App's account: "dependabot[bot]". */
const BotLogin = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9-]*\[bot\]$/,
    'a bot\'s login ends in "[bot]", e.g. "dependabot[bot]"; a machine user is a person to Airlock: list it under `users`',
  );

const SetName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, "a secret set name uses letters, digits, _ . -");

/** "org/team", or a bare team slug of the repository's owner. */
const TeamRef = z
  .string()
  .regex(
    /^(?:[A-Za-z0-9][A-Za-z0-9-]*\/)?[A-Za-z0-9][A-Za-z0-9_.-]*$/,
    'a team is "org/team-slug" (or a slug of the repository owner\'s team)',
  );

/**
 * A changed-path pattern, as CODEOWNERS and .gitignore write them: `*.sh` anywhere, `/ci.yml` at
 * the root only, `scripts/` a folder and everything in it, `**` any number of folders.
 */
const PathPattern = z
  .string()
  .min(1, "a path pattern cannot be empty")
  .max(300, "a path pattern is at most 300 characters")
  .refine((p) => !p.startsWith("!"), {
    message:
      "a pattern cannot start with '!': rules name what needs the stricter approval, nothing is excluded",
  })
  .refine((p) => !p.startsWith("#"), { message: "a pattern cannot start with '#'" })
  .refine((p) => !/[\x00-\x1f\x7f]/.test(p), {
    message: "a path pattern cannot hold control characters",
  });

const BotScopeSchema = z
  .object({
    login: BotLogin.describe('The bot\'s login, e.g. "dependabot[bot]".'),
    jobs: z
      .array(z.string().min(1))
      .default([])
      .describe(
        "Restricted jobs (by name, or a matrix expansion's id) its pull requests may run without an approval.",
      ),
    secrets: z
      .array(SetName)
      .default([])
      .describe(
        "Secret sets: a restricted job whose sets are all listed here runs without an approval.",
      ),
  })
  .strict();

/** A bot's entry: its login alone (public jobs only), or the login with what it may run. */
const BotEntry = z
  .union([BotLogin, BotScopeSchema])
  .transform((b) => (typeof b === "string" ? { login: b, jobs: [], secrets: [] } : b));

export const ApprovalRuleSchema = z
  .object({
    name: z
      .string()
      .min(1)
      .max(100)
      .optional()
      .describe("What the rule is about; shown on the approval check."),
    paths: z
      .array(PathPattern)
      .min(1, "a rule needs at least one path pattern")
      .describe(
        "Changed paths it applies to, as CODEOWNERS writes them: `*.sh`, `/ci.yml`, `scripts/`, `src/**/secrets/`.",
      ),
    approvals: z
      .number()
      .int()
      .min(1)
      .max(10, "at most 10 approvals")
      .default(1)
      .describe("How many distinct trusted members must approve the exact commit."),
    teams: z
      .array(TeamRef)
      .default([])
      .describe(
        'When set, the approvals must come from members of these teams ("org/team"), who are trusted too.',
      ),
  })
  .strict();

/** Whom a notice mentions: a team ("org/team") or a user ("login"). */
const Mention = z
  .string()
  .regex(
    /^(?:[A-Za-z0-9][A-Za-z0-9-]*\/[A-Za-z0-9][A-Za-z0-9_.-]*|[A-Za-z0-9](?:[A-Za-z0-9-]{0,38}))$/,
    'a mention is a team ("org/team-slug") or a GitHub login, without the @',
  );

export const NotifySchema = z
  .object({
    mention: z
      .array(Mention)
      .default([])
      .describe(
        'Teams ("org/team") and users a comment on the pull request mentions when a commit starts waiting for an approval.',
      ),
    webhook: SetName.optional().describe(
      "A secret set whose WEBHOOK_URL key holds a URL (a chat's incoming webhook) that a JSON notice is posted to.",
    ),
    remind_after: Duration.optional().describe(
      "Notify once more when the commit still waits this long after its first notice.",
    ),
  })
  .strict();

export const TrustSchema = z
  .object({
    orgs: z.array(z.string()).default([]).describe("Members of these organisations are trusted."),
    teams: z
      .array(z.string())
      .default([])
      .describe('Members of these teams ("org/team") are trusted.'),
    permission: z
      .enum(["admin", "maintain", "write"])
      .default("write")
      .describe("Anyone with at least this permission on the repository is trusted."),
    bots: z
      .array(BotEntry)
      .default([])
      .describe(
        'Bots whose pull requests may run some restricted jobs without an approval. A login alone ("dependabot[bot]") means public jobs only; give `jobs` or `secrets` to widen it. A bot never approves.',
      ),
    users: z.array(z.string()).default([]).describe("Individual users who are trusted."),
    approval: z
      .literal("per-commit")
      .default("per-commit")
      .describe("An approval binds one head commit; a push voids it."),
    rules: z
      .array(ApprovalRuleSchema)
      .default([])
      .describe(
        "Stricter approvals for commits that change some paths: more approvers, or approvers from named teams. Every rule whose paths a commit changes applies.",
      ),
    notify: NotifySchema.optional().describe(
      "Who is told, once per commit, that a commit waits for an approval: a PR comment mentioning teams or users, and/or a webhook; a reminder after a delay.",
    ),
  })
  .strict();

export type TrustConfig = z.infer<typeof TrustSchema>;
export type BotScope = TrustConfig["bots"][number];
export type ApprovalRule = TrustConfig["rules"][number];
export type NotifyConfig = NonNullable<TrustConfig["notify"]>;
