// Sizes as `.airlock.yml` writes them: "512MB", "2GB", "64KiB" or a number of bytes.
// KB, MB and GB are powers of 1000; KiB, MiB and GiB powers of 1024.
export const SIZE_RE = /^(\d+)\s*(B|KB|MB|GB|KiB|MiB|GiB)$/;

const UNITS: Record<string, number> = {
  B: 1,
  KB: 1000,
  MB: 1000 ** 2,
  GB: 1000 ** 3,
  KiB: 1024,
  MiB: 1024 ** 2,
  GiB: 1024 ** 3,
};

/** Bytes of a size string, or null for one that does not match. */
export function sizeStringBytes(s: string): number | null {
  const m = SIZE_RE.exec(s.trim());
  if (!m) return null;
  return Number(m[1]) * UNITS[m[2]!]!;
}
