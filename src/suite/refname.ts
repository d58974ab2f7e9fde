// Git ref name rules (git check-ref-format, with --branch's extras), so that an untrusted
// branch name is refused before it reaches git at all. At least as strict as git itself.

const MAX_BYTES = 255;

/** Why `name` is not a valid ref name, or null when it is. */
export function refNameProblem(name: string): string | null {
  if (name === "") return "it is empty";
  // In a /u regex a well-formed surrogate pair is one code point, so only lone halves match.
  if (/[\uD800-\uDFFF]/u.test(name)) return "it is not valid Unicode";
  if (Buffer.byteLength(name, "utf8") > MAX_BYTES) return `it is longer than ${MAX_BYTES} bytes`;
  if (/[\x00-\x1f\x7f]/.test(name)) return "it contains a control character";
  if (/[ ~^:?*[\\]/.test(name)) return "it contains a space or one of ~ ^ : ? * [ \\";
  if (name.includes("..")) return 'it contains ".."';
  if (name.includes("@{")) return 'it contains "@{"';
  if (name === "@") return 'it is "@"';
  if (name.startsWith("/") || name.endsWith("/")) return 'it starts or ends with "/"';
  if (name.includes("//")) return 'it contains "//"';
  if (name.endsWith(".")) return 'it ends with "."';
  for (const part of name.split("/")) {
    if (part.startsWith(".")) return 'a component starts with "."';
    if (part.endsWith(".lock")) return 'a component ends with ".lock"';
  }
  return null;
}

/** Like `git check-ref-format --branch`: also refuses a leading "-" and "HEAD". */
export function branchNameProblem(name: string): string | null {
  if (name.startsWith("-")) return 'it starts with "-"';
  if (name === "HEAD") return 'it is "HEAD"';
  return refNameProblem(name);
}

export class RefNameError extends Error {}

/** Throws a one-line error naming the branch (as JSON, so control characters stay visible). */
export function assertBranchName(name: string, what = "branch name"): string {
  const problem = branchNameProblem(name);
  if (problem) {
    throw new RefNameError(
      `${what} ${JSON.stringify(name)} is not a valid git branch name: ${problem}`,
    );
  }
  return name;
}

export const isFullSha = (s: string): boolean =>
  /^[0-9a-f]{40}$/.test(s) || /^[0-9a-f]{64}$/.test(s);
