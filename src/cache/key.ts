// Cache keys: a template over file hashes, rendered in the job's checkout before it runs, e.g.
// `npm-{{ hash "package-lock.json" }}`. Keys name files of the cache store, so they are plain.
import { createHash } from "node:crypto";
import { lstat, readFile, realpath } from "node:fs/promises";
import path from "node:path";

/** What a rendered key (and a restore key prefix) may contain. */
export const KEY_RE = /^[A-Za-z0-9._-]{1,200}$/;
const CALL = /\{\{\s*hash((?:\s+"[^"]*")+)\s*\}\}/g;

/** Why a template cannot be rendered (bad syntax, a file outside the workspace), or null. */
export function keyTemplateProblem(template: string): string | null {
  const rest = template.replace(CALL, "x");
  if (rest.includes("{{") || rest.includes("}}")) {
    return 'the only template is {{ hash "file" ... }}, with files relative to the job\'s directory';
  }
  if (!KEY_RE.test(rest)) return 'a key may use only letters, digits, ".", "_" and "-"';
  for (const file of filesOf(template)) {
    if (file.startsWith("/") || file.split(/[\\/]/).includes("..") || file.includes("\0")) {
      return `hash "${file}" must name a file of the workspace, relative to the job's directory`;
    }
  }
  return null;
}

function filesOf(template: string): string[] {
  return [...template.matchAll(CALL)].flatMap((m) =>
    [...m[1]!.matchAll(/"([^"]*)"/g)].map((f) => f[1]!),
  );
}

/**
 * Renders `template` in `dir` (the job's directory inside `root`, its checkout). Each `hash` is
 * the SHA-256 of the named files' contents, 20 hex digits. A missing file, or one that is not
 * a regular file of the checkout (a symlink out of it), is an error naming it.
 */
export async function renderKey(template: string, dir: string, root: string): Promise<string> {
  const realRoot = await realpath(root);
  const hashes = new Map<string, string>();
  for (const m of template.matchAll(CALL)) {
    const h = createHash("sha256");
    for (const f of m[1]!.matchAll(/"([^"]*)"/g)) {
      const file = path.resolve(dir, f[1]!);
      const st = await lstat(file).catch(() => null);
      const real = st?.isFile() ? await realpath(file) : null;
      if (!real || path.relative(realRoot, real).startsWith("..")) {
        throw new Error(`cache key: ${f[1]} is not a file of the checkout`);
      }
      h.update(await readFile(real)).update("\0");
    }
    hashes.set(m[0], h.digest("hex").slice(0, 20));
  }
  const key = template.replace(CALL, (m) => hashes.get(m)!);
  if (!KEY_RE.test(key)) throw new Error(`cache key ${JSON.stringify(key)} is not usable`);
  return key;
}
