// A one-time sign-in link for the embedded single-machine mode: `airlock serve` prints one on
// start, so whoever can read its output opens the console without creating a token first. The
// token in the link is stored hashed, expires soon and works once.
import type { SessionRepo } from "../../store/index.js";

export const LINK_TTL_MS = 15 * 60_000;

/** http://127.0.0.1:PORT/login/once?t=... for the server at `baseUrl`. */
export async function createConsoleLink(
  sessions: SessionRepo,
  baseUrl: string,
  ttlMs = LINK_TTL_MS,
): Promise<string> {
  const t = await sessions.createLink(ttlMs);
  return `${baseUrl.replace(/\/+$/, "")}/login/once?t=${encodeURIComponent(t)}`;
}
