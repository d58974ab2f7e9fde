// Path rules shared by the workspace, the sandbox mounts and the report reader.
import { realpathSync } from "node:fs";
import path from "node:path";

/** True when `p` is `dir` itself or inside it (both absolute and normalised). */
export function isInside(p: string, dir: string): boolean {
  const rel = path.relative(dir, p);
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}

/** The real path of `p`, or of its nearest existing ancestor joined with the rest. */
export function realish(p: string): string {
  const abs = path.resolve(p);
  try {
    return realpathSync(abs);
  } catch {
    const parent = path.dirname(abs);
    return parent === abs ? abs : path.join(realish(parent), path.basename(abs));
  }
}

/**
 * A relative path that stays below its base: no "..", not absolute, no NUL.
 * Returns it in POSIX form ("" for the base itself), or null when it would escape.
 */
export function safeRelative(rel: string): string | null {
  if (rel.includes("\0") || path.posix.isAbsolute(rel) || path.win32.isAbsolute(rel)) return null;
  const norm = path.posix.normalize(rel.split(path.sep).join("/"));
  if (norm === "." || norm === "./") return "";
  if (norm === ".." || norm.startsWith("../")) return null;
  return norm.replace(/\/$/, "");
}

/** A job id made safe to use as part of a directory name. */
export function dirSafe(id: string): string {
  return id.replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 60) || "job";
}
