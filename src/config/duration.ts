// Durations as `.airlock.yml` writes them: "90s", "30m", "2h", "1h30m", or a number of seconds.
import { z } from "zod";

export const DURATION_RE = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;

/** Milliseconds of a duration string (0 for one that does not match). */
export function durationStringMs(d: string): number {
  const [, h = "0", min = "0", s = "0"] = DURATION_RE.exec(d) ?? [];
  return ((Number(h) * 60 + Number(min)) * 60 + Number(s)) * 1000;
}

/** Milliseconds written as .airlock.yml writes durations: "90s" as "1m30s", "2h", "450ms". */
export function formatDurationMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const total = Math.round(ms / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  return `${h ? `${h}h` : ""}${m ? `${m}m` : ""}${s ? `${s}s` : ""}`;
}

const DURATION_HINT = 'a duration looks like "90s", "30m", "2h", "1h30m" or a number of seconds';

/** "90s", "30m", "2h", "1h30m" or a number of seconds; never zero. */
export const Duration = z.union(
  [
    z.number({ error: DURATION_HINT }).int(DURATION_HINT).positive("a duration must be above zero"),
    z
      .string()
      .regex(DURATION_RE, DURATION_HINT)
      .refine((s) => s.length > 0, DURATION_HINT)
      .refine((s) => /[1-9]/.test(s), "a duration must be above zero"),
  ],
  { error: DURATION_HINT },
);

export function durationMs(d: z.infer<typeof Duration>): number {
  return typeof d === "number" ? d * 1000 : durationStringMs(d);
}
