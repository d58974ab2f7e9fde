// The disk reserve: free space kept on the data directory's filesystem (logs and the database live
// there). Below it no new job starts, and the gateway is not ready (/readyz), so that a job's
// output cannot fill the disk that the store needs to go on storing.
import { statfs } from "node:fs/promises";
import { formatBytes } from "../config/size.js";

export const DEFAULT_DISK_RESERVE = 1024 ** 3;

/** Bytes an unprivileged process may still write on `dir`'s filesystem. */
export async function freeBytes(dir: string): Promise<number> {
  const s = await statfs(dir);
  return s.bavail * s.bsize;
}

/** Why nothing new may start: the free space is below the reserve (null: it is not; 0: no reserve). */
export async function belowReserve(dir: string, reserveBytes: number): Promise<string | null> {
  if (reserveBytes <= 0) return null;
  const free = await freeBytes(dir);
  if (free >= reserveBytes) return null;
  return `only ${formatBytes(free)} free for the data directory, below the disk reserve of ${formatBytes(reserveBytes)} (disk_reserve): free some space, or lower the reserve`;
}
