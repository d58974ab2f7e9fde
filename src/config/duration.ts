// Durations as `.airlock.yml` writes them: "90s", "30m", "2h", "1h30m".
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
