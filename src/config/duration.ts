// Durations as `.airlock.yml` writes them: "90s", "30m", "2h", "1h30m".
export const DURATION_RE = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;

/** Milliseconds of a duration string (0 for one that does not match). */
export function durationStringMs(d: string): number {
  const [, h = "0", min = "0", s = "0"] = DURATION_RE.exec(d) ?? [];
  return ((Number(h) * 60 + Number(min)) * 60 + Number(s)) * 1000;
}
