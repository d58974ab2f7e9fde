// The `sub` template of ID tokens (`oidc.sub` in .airlock.yml): its placeholders and checks. The
// claims themselves are built in src/secrets/oidc/claims.ts from these placeholders' values.
export const DEFAULT_SUB = "repo:{repo}:pr:{pr}:job:{job}";

/** What a `sub` template may name; each value is escaped so it cannot add a field. */
export const SUB_PLACEHOLDERS = [
  "repo",
  "owner",
  "pr",
  "job",
  "template",
  "sha",
  "base_ref",
  "authorization",
  "source",
] as const;
export type SubPlaceholder = (typeof SUB_PLACEHOLDERS)[number];

export const SUB_PLACEHOLDER_RE = /\{([a-z_]+)\}/g;

/** Why a `sub` template cannot be used, or null. */
export function subTemplateProblem(template: string): string | null {
  if (template.length === 0) return "the sub template is empty";
  const known = new Set<string>(SUB_PLACEHOLDERS);
  const unknown = [...template.matchAll(SUB_PLACEHOLDER_RE)].find((m) => !known.has(m[1]!));
  if (unknown) {
    return `unknown placeholder {${unknown[1]}} in the sub template: use ${SUB_PLACEHOLDERS.map((f) => `{${f}}`).join(", ")}`;
  }
  if (/[{}]/.test(template.replace(SUB_PLACEHOLDER_RE, ""))) {
    return "a sub template uses { and } only around a placeholder such as {repo}";
  }
  return null;
}
