// Rotation reminders (`rotate_every: 30d`): pure, so that `secrets list` and `doctor` agree.
import { periodMs } from "../../config/vault-schema.js";

export interface RotationDue {
  due: boolean;
  /** When the value should be (or should have been) rotated, ms since the epoch. */
  dueAt: number;
  ageMs: number;
  /** Plain words, e.g. "last rotated 42 days ago; rotate_every is 30d (12 days overdue)". */
  message: string;
}

const DAY = 86_400_000;

function ago(ms: number): string {
  if (ms >= 2 * DAY) return `${Math.floor(ms / DAY)} days`;
  const h = Math.floor(ms / 3_600_000);
  if (h >= 2) return `${h} hours`;
  return `${Math.max(0, Math.floor(ms / 60_000))} minutes`;
}

/** Whether a value last written at `updatedAt` is due for rotation under `every` ("30d"). */
export function rotationDue(updatedAt: number, every: string, now: number): RotationDue {
  const period = periodMs(every);
  const dueAt = updatedAt + period;
  const ageMs = Math.max(0, now - updatedAt);
  const due = now >= dueAt;
  const message = due
    ? `last rotated ${ago(ageMs)} ago; rotate_every is ${every} (${ago(now - dueAt)} overdue)`
    : `last rotated ${ago(ageMs)} ago; next rotation due in ${ago(dueAt - now)}`;
  return { due, dueAt, ageMs, message };
}
