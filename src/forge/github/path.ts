// Builds GitHub API paths. Every interpolated value becomes one percent-encoded URL segment, so a
// branch, label, login or file name can never add a segment, a query or a fragment (DESIGN.md
// invariant 8).

/** Encodes one segment; "." and ".." are refused because URL normalisation would resolve them. */
export function segment(value: string | number): string {
  const s = String(value);
  if (s === "" || s === "." || s === "..") {
    throw new Error(`refusing the URL segment ${JSON.stringify(s)}`);
  }
  return encodeURIComponent(s);
}

/** `api\`/repos/${owner}/${repo}/pulls/${n}\`` with each value encoded as a single segment. */
export function api(strings: TemplateStringsArray, ...values: (string | number)[]): string {
  let out = strings[0] ?? "";
  values.forEach((v, i) => {
    out += segment(v) + (strings[i + 1] ?? "");
  });
  return out;
}

/**
 * A repository file path: each "/"-separated part is encoded on its own, so "docs/a b.md" keeps its
 * folders while "../" or an absolute path is refused outright.
 */
export function filePath(p: string): string {
  if (p.startsWith("/")) throw new Error(`refusing the absolute file path ${JSON.stringify(p)}`);
  return p.split("/").map(segment).join("/");
}

/** A query string from defined values only, each encoded. */
export function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : "";
}
