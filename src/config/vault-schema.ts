// How a secret set is read from Vault/OpenBao (the `vault:` block of a set in .airlock.yml).
// The Vault address and the login credentials never come from here: .airlock.yml is in the
// repository, so it names paths and policies only; Airlock's environment holds the rest.
import { z } from "zod";

// Kept local: schema.ts imports this file, so importing it back would be a cycle.
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const EnvName = z
  .string()
  .regex(ENV_NAME, "an environment variable name must match [A-Za-z_][A-Za-z0-9_]*");

/** A Vault path: no leading slash, no `v1/` prefix, no `.` or `..` segments. */
const VaultPath = z
  .string()
  .min(1, "a Vault path must not be empty")
  .refine((p) => !p.startsWith("/"), "write the Vault path without a leading `/`")
  .refine((p) => !/^v1\//.test(p), "write the Vault path without the `v1/` API prefix")
  .refine(
    (p) => p.split("/").every((s) => s !== "." && s !== ".." && s !== ""),
    "a Vault path has no empty, `.` or `..` segments",
  );

const PERIOD_RE = /^(\d+)(s|m|h|d|w)$/;
const PERIOD_HINT = 'a period looks like "90s", "30m", "12h", "30d" or "2w"';
const UNIT_MS: Record<string, number> = {
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
};

/** "90s", "30m", "12h", "30d", "2w". */
export const VaultPeriod = z
  .string()
  .regex(PERIOD_RE, PERIOD_HINT)
  .refine((s) => !/^0+[smhdw]$/.test(s), "a period must be above zero");

export function periodMs(p: string): number {
  const m = PERIOD_RE.exec(p);
  if (!m) throw new Error(`${JSON.stringify(p)} is not a period: ${PERIOD_HINT}`);
  return Number(m[1]) * UNIT_MS[m[2]!]!;
}

const PolicyName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, "a Vault policy name uses letters, digits, _ . -");

export const VaultAuthSchema = z
  .object({
    method: z
      .enum(["token", "approle", "jwt", "id-token"])
      .default("token")
      .describe(
        "How Airlock logs in: token (VAULT_TOKEN), approle (AIRLOCK_VAULT_ROLE_ID and AIRLOCK_VAULT_SECRET_ID), jwt (AIRLOCK_VAULT_JWT or AIRLOCK_VAULT_JWT_FILE), or id-token (the job's own Airlock ID token, at each job: no Vault credential in Airlock)",
      ),
    mount: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_./-]*$/, "an auth mount is a path such as `approle`")
      .optional()
      .describe("Where the auth method is mounted; defaults to its name (approle, jwt)"),
    role: z
      .string()
      .min(1)
      .optional()
      .describe("The role to log in as (required for jwt and id-token)"),
    audience: z
      .string()
      .min(1)
      .default("vault")
      .describe("id-token: the audience of the job's token (the role's bound_audiences)"),
  })
  .strict();

export const VaultDynamicSchema = z
  .object({
    path: VaultPath.describe("A dynamic secret path, e.g. aws/creds/ci-role"),
    keys: z
      .record(EnvName, z.string().min(1))
      .refine((k) => Object.keys(k).length > 0, "map at least one variable to a response field")
      .describe(
        "Environment variable -> field of the response, e.g. AWS_ACCESS_KEY_ID: access_key",
      ),
  })
  .strict();

export const VaultSetSchema = z
  .object({
    path: VaultPath.describe(
      "The KV secret, e.g. secret/data/functional-tests (KV v2) or secret/functional-tests; the mount and KV version are detected",
    ),
    mount: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_./-]*$/, "a mount is a path such as `secret`")
      .optional()
      .describe("The KV mount, when detection is not allowed (skips sys/internal/ui/mounts)"),
    kv_version: z
      .union([z.literal(1), z.literal(2)])
      .optional()
      .describe("The KV version, when detection is not allowed"),
    keys: z
      .record(EnvName, z.string().min(1))
      .optional()
      .describe(
        "Environment variable -> key in the secret; without it every key is passed under its own name",
      ),
    files: z
      .array(EnvName)
      .default([])
      .describe(
        "Variables delivered as files on the job's private tmpfs instead of the environment",
      ),
    mode: z
      .enum(["inject", "token"])
      .default("inject")
      .describe(
        "inject: Airlock reads the values and passes them to the job; token: the job gets VAULT_ADDR and a short-lived child token",
      ),
    policies: z
      .array(PolicyName)
      .default([])
      .describe("token mode: the only policies of the job's token"),
    default_policy: z
      .boolean()
      .default(false)
      .describe("token mode: also attach Vault's `default` policy (lookup-self, renew-self)"),
    num_uses: z
      .number()
      .int()
      .min(1)
      .max(100_000)
      .default(100)
      .describe("token mode: how many requests the job's token may make"),
    ttl_margin: VaultPeriod.default("5m").describe(
      "token mode: the token lives for the job's timeout plus this margin",
    ),
    dynamic: z
      .array(VaultDynamicSchema)
      .default([])
      .describe("Dynamic secrets: a lease is taken for the job and revoked when it ends"),
    rotate_every: VaultPeriod.optional().describe(
      "Remind in `airlock secrets list` and `airlock doctor` when the secret is older than this",
    ),
    auth: VaultAuthSchema.default({ method: "token", audience: "vault" }),
    namespace: z
      .string()
      .min(1)
      .optional()
      .describe("Vault Enterprise/OpenBao namespace; defaults to VAULT_NAMESPACE"),
  })
  .strict()
  .superRefine((v, ctx) => {
    if (v.mode === "token" && v.policies.length === 0) {
      ctx.addIssue({
        code: "custom",
        path: ["policies"],
        message: "token mode needs `policies`: the job's token gets only these",
      });
    }
    if (v.policies.includes("root")) {
      ctx.addIssue({
        code: "custom",
        path: ["policies"],
        message: "a job's token must never carry the `root` policy; name a policy for the set",
      });
    }
    if ((v.auth.method === "jwt" || v.auth.method === "id-token") && !v.auth.role) {
      ctx.addIssue({
        code: "custom",
        path: ["auth", "role"],
        message: `${v.auth.method} login needs a \`role\``,
      });
    }
    const keyNames = Object.keys(v.keys ?? {});
    for (const f of v.files) {
      if (v.keys && !keyNames.includes(f)) {
        ctx.addIssue({
          code: "custom",
          path: ["files"],
          message: `"${f}" is not one of the variables in \`keys\``,
        });
      }
    }
  });

export type VaultSetConfig = z.infer<typeof VaultSetSchema>;
export type VaultSetInput = z.input<typeof VaultSetSchema>;
