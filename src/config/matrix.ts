// How a job's matrix turns into named expansions. Shared by the config checks (which report
// bad names with positions) and the planner (which builds the jobs), so both agree on ids.
import type { JobConfig } from "./schema.js";

/** A safe job id: usable as a file name and in URLs without escaping. */
export const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
export const MAX_ID_LENGTH = 100;
/** More expansions than this is almost always a mistake (and a costly one). */
export const MAX_EXPANSIONS = 256;

const VAR = /\$\{([^}]*)\}/g;

/** Variable names used as `${name}` in a template, in order of appearance. */
export function templateVars(template: string): string[] {
  return [...template.matchAll(VAR)].map((m) => (m[1] ?? "").trim());
}

/** Replace each `${name}` by its value. Unknown names are left as they are (the checks report them). */
export function substitute(template: string, values: Record<string, string>): string {
  return template.replace(VAR, (whole, name: string) => values[name.trim()] ?? whole);
}

/** The cartesian product of the matrix, first variable varying slowest (declaration order). */
export function matrixCombos(
  matrix: Record<string, string[]> | undefined,
): Record<string, string>[] {
  let combos: Record<string, string>[] = [{}];
  for (const [name, values] of Object.entries(matrix ?? {})) {
    const next: Record<string, string>[] = [];
    for (const c of combos) for (const v of values) next.push({ ...c, [name]: v });
    combos = next;
  }
  return combos;
}

export function comboCount(matrix: Record<string, string[]> | undefined): number {
  return Object.values(matrix ?? {}).reduce((n, vs) => n * vs.length, 1);
}

/** Replace each run of characters a file name should not hold by "-". */
export function sanitizeId(raw: string): string {
  return raw.replace(/[^A-Za-z0-9_.-]+/g, "-");
}

export interface Expansion {
  id: string;
  /** The id before unsafe characters were replaced, to explain a clash they caused. */
  rawId: string;
  matrix: Record<string, string>;
  tags: string[];
}

/**
 * The expansions of one `jobs:` entry. Without a matrix: one, named after the key. With one:
 * `<key>-<name>`, where `name` defaults to the values joined by "-"; a `name` that already
 * starts with `<key>-` is used as it is.
 */
export function expansionsOf(template: string, job: JobConfig): Expansion[] {
  if (!job.matrix || Object.keys(job.matrix).length === 0) {
    return [{ id: template, rawId: template, matrix: {}, tags: uniqueTags(job.tags) }];
  }
  return matrixCombos(job.matrix).map((values) => {
    const name =
      job.name !== undefined ? substitute(job.name, values) : Object.values(values).join("-");
    const full = name.startsWith(`${template}-`) ? name : `${template}-${name}`;
    return {
      id: sanitizeId(full),
      rawId: full,
      matrix: values,
      tags: uniqueTags(job.tags.map((t) => substitute(t, values))),
    };
  });
}

function uniqueTags(tags: string[]): string[] {
  return [...new Set(tags.map((t) => t.trim()).filter((t) => t.length > 0))];
}
