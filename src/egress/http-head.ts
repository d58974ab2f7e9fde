// The heads of HTTP/1.x messages as the egress proxy reads them: it decides on a request's head,
// rewrites it for the destination, and passes every byte after it without parsing it again.
import http from "node:http";

/** The longest head read (request line or status line and headers). */
export const MAX_HEAD = 64 * 1024;

/** Headers that concern one hop only (RFC 9110 7.6.1), never forwarded. */
const HOP_BY_HOP = new Set([
  "connection",
  "proxy-connection",
  "keep-alive",
  "proxy-authorization",
  "proxy-authenticate",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

export interface Head {
  /** The start line's three parts: method, target, version; or version, status, reason. */
  start: [string, string, string];
  /** Names in lower case, in order, repeated names kept. */
  headers: [string, string][];
}

/** Where the head at the start of `buf` ends (after its blank line), or -1. */
export function headEnd(buf: Buffer): number {
  const i = buf.indexOf("\r\n\r\n", 0, "latin1");
  return i < 0 ? -1 : i + 4;
}

export const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Parses a head (its text up to and including the blank line); null when malformed. */
export function parseHead(text: string): Head | null {
  // A bare CR or LF, or a NUL, is where another parser could see a line end the proxy did not.
  if (/[\0\r\n]/.test(text.slice(0, -4).replaceAll("\r\n", ""))) return null;
  const lines = text.slice(0, -4).split("\r\n");
  const first = /^(\S+) (\S+) ?(.*)$/.exec(lines[0]!);
  if (!first) return null;
  const headers: [string, string][] = [];
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    const name = line.slice(0, colon);
    // A line folded onto the previous one, or a name with spaces, is refused (RFC 9112 5).
    if (colon <= 0 || !TOKEN.test(name)) return null;
    headers.push([name.toLowerCase(), line.slice(colon + 1).trim()]);
  }
  return { start: [first[1]!, first[2]!, first[3]!], headers };
}

/** Every value of `name`, joined as one list; undefined when absent. */
export function header(h: Head, name: string): string | undefined {
  const values = h.headers.filter(([n]) => n === name).map(([, v]) => v);
  return values.length > 0 ? values.join(", ") : undefined;
}

/** The lower-case tokens of a list header such as Connection. */
export function tokens(value: string | undefined): Set<string> {
  return new Set(
    (value ?? "")
      .split(",")
      .map((t) => t.trim().toLowerCase())
      .filter(Boolean),
  );
}

/**
 * A head for the next hop: `start`, the end-to-end headers of `h` (hop-by-hop ones and those its
 * Connection header names dropped, except `keep` ones), then `extra`.
 */
export function forwardHead(
  start: string,
  h: Head,
  extra: [string, string][],
  keep: string[] = [],
): Buffer {
  const dropped = tokens(header(h, "connection"));
  let out = `${start}\r\n`;
  for (const [n, v] of h.headers) {
    if (keep.includes(n) || (!HOP_BY_HOP.has(n) && !dropped.has(n))) out += `${n}: ${v}\r\n`;
  }
  for (const [n, v] of extra) out += `${n}: ${v}\r\n`;
  return Buffer.from(`${out}\r\n`, "latin1");
}

/** A whole response with a plain-text body, closing the connection. */
export function plainResponse(status: number, message: string, refused = false): string {
  const body = `${message}\n`;
  return `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ""}\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${refused ? "X-Airlock-Egress: refused\r\n" : ""}Connection: close\r\n\r\n${body}`;
}
