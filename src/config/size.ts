// Sizes as `.airlock.yml` writes them: "512MB", "2GB", "64KiB" or a number of bytes.
// KB, MB and GB are powers of 1000; KiB, MiB and GiB powers of 1024.
import { z } from "zod";

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

const SIZE_HINT =
  'a size looks like "512MB", "2GB", "64KiB" (units B, KB, MB, GB, KiB, MiB, GiB) or a number of bytes';

/** "512MB", "2GiB" or a number of bytes; never zero. */
export const Size = z.union(
  [
    z.number({ error: SIZE_HINT }).int(SIZE_HINT).positive("a size must be above zero"),
    z
      .string()
      .refine((s) => sizeStringBytes(s) !== null, SIZE_HINT)
      .refine((s) => (sizeStringBytes(s) ?? 1) > 0, "a size must be above zero")
      .refine((s) => Number.isSafeInteger(sizeStringBytes(s) ?? 0), "that size is too large"),
  ],
  { error: SIZE_HINT },
);

export function sizeBytes(s: z.infer<typeof Size>): number {
  return typeof s === "number" ? s : (sizeStringBytes(s) ?? 0);
}

/** A size at least `min` bytes (`min` written as the user would write it). */
export function SizeAtLeast(field: string, min: string) {
  const bytes = sizeStringBytes(min)!;
  return Size.refine((s) => sizeBytes(s) >= bytes, `${field} must be at least ${min}`);
}

/** Bytes for people: "2 GiB", "512 MiB", "1.5 GiB", "900 bytes". */
export function formatBytes(n: number): string {
  for (const [unit, size] of [
    ["GiB", 1024 ** 3],
    ["MiB", 1024 ** 2],
    ["KiB", 1024],
  ] as const) {
    if (n >= size) {
      const v = n / size;
      return `${Number.isInteger(v) ? v : Number(v.toFixed(1))} ${unit}`;
    }
  }
  return `${n} bytes`;
}

/** Counts for people: "1,024". */
export function formatCount(n: number): string {
  return n.toLocaleString("en-US");
}
