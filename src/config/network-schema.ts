// `network:` of a job: false (nothing), true (the host's network, anything), or an allow list
// enforced by an egress proxy, optionally in audit mode (everything allowed and recorded).
import { z } from "zod";
import { parseRule, RuleError } from "../egress/rules.js";

const NETWORK_HINT =
  'expected true, false or { allow: [hosts] }, e.g. { allow: [registry.npmjs.org, "*.amazonaws.com:443"] }';

const AllowEntry = z.string({ error: "an allow entry is a string" }).superRefine((s, ctx) => {
  try {
    parseRule(s);
  } catch (e) {
    if (!(e instanceof RuleError)) throw e;
    ctx.addIssue({ code: "custom", message: e.message });
  }
});

export const EgressSchema = z
  .object({
    allow: z
      .array(AllowEntry)
      .default([])
      .describe(
        'Where the job may connect: host names ("*.example.com" for any name below it), IP addresses or ranges ("10.0.0.0/8"), each with an optional ":port". Nothing else is reachable.',
      ),
    audit: z
      .boolean()
      .default(false)
      .describe(
        "Let every connection through, recording those the allow list would refuse (to build the list).",
      ),
  })
  .strict()
  .refine((o) => o.allow.length > 0 || o.audit, {
    message:
      "an empty allow list lets nothing through: write `network: false`, list hosts under allow, or set `audit: true`",
  });

export const NetworkSchema = z
  .union([z.boolean(), EgressSchema], {
    error: (iss) =>
      // An object whose own fields are wrong is reported by those fields (zod picks that branch).
      iss.input !== null && typeof iss.input === "object" && !Array.isArray(iss.input)
        ? undefined
        : `${NETWORK_HINT}; got ${JSON.stringify(iss.input) ?? "nothing"}`,
  })
  .default(false)
  .describe(
    "false: no network (the default). true: the host's network, anything. { allow: [...] }: only the listed hosts, through Airlock's egress proxy, every connection recorded.",
  );

export type NetworkConfig = z.infer<typeof NetworkSchema>;
