// Known credential formats, masked in every job's output (public jobs included) whether or not
// anyone registered them. The search runs on bytes: native `indexOf` passes for a rare anchor
// of each format (several GB/s each, where one regex alternation of all the prefixes runs
// under 1 GB/s on log text), then a sticky pattern on a latin1 slice where an anchor is found.
// Every pattern is ASCII, so latin1 string indexes are byte offsets.

export type SpanSink = (start: number, end: number, name: string) => void;

const SEP = String.raw`(?:\\[rn]|\s)`;
const PEM_TOKEN = String.raw`(?:[A-Za-z-]+: [^\r\n\\]*|[A-Za-z0-9+/=]+)`;
/**
 * A private key block: header, body, footer. The body may be written with real or escaped
 * (JSON) newlines. Without a footer (a truncated key) the body runs to the first text that is
 * not key material.
 */
const PEM = `-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY-----(?:${SEP}*${PEM_TOKEN}(?:${SEP}+${PEM_TOKEN})*)?(?:${SEP}*-----END[A-Z0-9 ]{0,40}PRIVATE KEY-----)?`;

export interface TokenKind {
  name: string;
  /** Literal starts of the format: where a token may begin at the end of a chunk. */
  triggers: string[];
  /** Longest token, in bytes (how much text the pattern is tried on). */
  max: number;
  /** The whole token, tried (sticky) where a trigger was found. */
  body: RegExp;
  /** After a fixed-length body, the next character must not be one of these. */
  after?: RegExp;
}

const KINDS: TokenKind[] = [
  {
    name: "aws-access-key-id",
    max: 20,
    triggers: ["AKIA", "ASIA"],
    body: /(?:AKIA|ASIA)[A-Z0-9]{16}/y,
    after: /[A-Za-z0-9_]/,
  },
  {
    name: "github-token",
    max: 300,
    triggers: ["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"],
    body: /gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255}/y,
  },
  { name: "gitlab-token", max: 270, triggers: ["glpat-"], body: /glpat-[A-Za-z0-9_.-]{20,255}/y },
  {
    name: "slack-token",
    max: 270,
    triggers: ["xoxa-", "xoxb-", "xoxe-", "xoxo-", "xoxp-", "xoxr-", "xoxs-"],
    body: /xox[abeoprs]-[A-Za-z0-9-]{10,255}/y,
  },
  {
    name: "jwt",
    max: 16 * 1024 + 8,
    triggers: ["eyJ"],
    body: /eyJ[A-Za-z0-9_-]{8,4096}\.eyJ[A-Za-z0-9_-]{8,8192}\.[A-Za-z0-9_-]{0,4096}/y,
  },
  {
    name: "google-api-key",
    max: 39,
    triggers: ["AIza"],
    body: /AIza[A-Za-z0-9_-]{35}/y,
    after: /[A-Za-z0-9_-]/,
  },
  {
    name: "stripe-key",
    max: 260,
    triggers: ["sk_live_", "rk_live_"],
    body: /[rs]k_live_[A-Za-z0-9]{20,247}/y,
  },
  {
    name: "private-key",
    max: Number.POSITIVE_INFINITY,
    triggers: ["-----BEGIN"],
    body: new RegExp(PEM, "y"),
  },
];

const byName = (name: string): TokenKind => KINDS.find((k) => k.name === name)!;
const AWS = byName("aws-access-key-id");
const GITHUB = byName("github-token");
const GITLAB = byName("gitlab-token");
const SLACK = byName("slack-token");
const JWT = byName("jwt");
const GOOGLE = byName("google-api-key");
const STRIPE = byName("stripe-key");
const PRIVATE_KEY = byName("private-key");

const isWordCode = (c: number): boolean =>
  (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
const isTokenCode = (c: number): boolean => isWordCode(c) || c === 45 || c === 46;

const latin1 = (buf: Buffer, from: number, to: number): string => buf.toString("latin1", from, to);

/** p, o, u, s, r: the kinds of `gh?_` token (personal, OAuth, user, server, refresh). */
const isGhKind = (c: number): boolean =>
  c === 0x70 || c === 0x6f || c === 0x75 || c === 0x73 || c === 0x72;

const at = (buf: Buffer, i: number, literal: string): boolean =>
  i >= 0 && i + literal.length <= buf.length && latin1(buf, i, i + literal.length) === literal;

/**
 * Finds every known token in `buf` and reports it to `sink`. Returns where the last private key
 * header starts (or -1), for the streaming check of an unfinished block.
 *
 * A native `indexOf` pass costs little per byte but a call per occurrence of its anchor, so
 * each pass serves several formats and anchors on their least common byte: one pass over `I`
 * finds AKIA, ASIA, AIza and -----BEGIN; one over `_` finds gh?_, github_pat_ and [rs]k_live_.
 */
export function detectTokens(buf: Buffer, sink: SpanSink): number {
  const len = buf.length;
  let lastPem = -1;
  const tryAt = (k: TokenKind, start: number): number => {
    if (start < 0) return -1;
    // Inside a longer word (a base64 blob, an identifier) these prefixes are coincidence.
    if (k !== PRIVATE_KEY && start > 0 && isWordCode(buf[start - 1]!)) return -1;
    const text = latin1(buf, start, Math.min(len, start + k.max));
    k.body.lastIndex = 0;
    const m = k.body.exec(text);
    if (m === null) return -1;
    const end = start + m[0].length;
    if (k.after && end < len && k.after.test(String.fromCharCode(buf[end]!))) return -1;
    sink(start, end, k.name);
    return end;
  };
  const each = (anchor: string | number, visit: (i: number) => number): void => {
    for (let i = buf.indexOf(anchor); i >= 0; ) {
      const next = Math.max(i + 1, visit(i));
      i = next < len ? buf.indexOf(anchor, next) : -1;
    }
  };
  // AKIA / ASIA / AIza / -----BEGIN. A found token is not searched again for its own kinds
  // (keys: `keyEnd`, private key blocks: `pemEnd`), but may hold the other kind.
  let keyEnd = 0;
  let pemEnd = 0;
  for (let i = buf.indexOf(0x49); i >= 0; i = i + 1 < len ? buf.indexOf(0x49, i + 1) : -1) {
    const b1 = i >= 1 ? buf[i - 1]! : 0;
    if (b1 === 0x41) {
      // AIza
      if (i - 1 >= keyEnd && buf[i + 1] === 0x7a && buf[i + 2] === 0x61) {
        keyEnd = Math.max(keyEnd, tryAt(GOOGLE, i - 1));
      }
    } else if (b1 === 0x4b || b1 === 0x53) {
      // AKIA, ASIA
      if (i - 2 >= keyEnd && buf[i - 2] === 0x41 && buf[i + 1] === 0x41) {
        keyEnd = Math.max(keyEnd, tryAt(AWS, i - 2));
      }
    } else if (
      b1 === 0x47 &&
      i - 3 >= pemEnd &&
      buf[i + 1] === 0x4e &&
      at(buf, i - 8, "-----BEG")
    ) {
      lastPem = i - 8;
      pemEnd = Math.max(pemEnd, tryAt(PRIVATE_KEY, i - 8));
    }
  }
  // gh?_, github_pat_, sk_live_, rk_live_: all have an underscore at a known place. The most
  // frequent anchor of all, so the loop is written out (no callback per underscore).
  for (let i = buf.indexOf(0x5f); i >= 0; ) {
    let end = -1;
    const c1 = i >= 1 ? buf[i - 1]! : 0;
    if (i >= 3 && buf[i - 2] === 0x68 && buf[i - 3] === 0x67 && isGhKind(c1)) {
      end = tryAt(GITHUB, i - 3);
    } else if (c1 === 0x62 && at(buf, i - 6, "github_pat_")) {
      end = tryAt(GITHUB, i - 6);
    } else if (
      c1 === 0x6b &&
      (buf[i - 2] === 0x73 || buf[i - 2] === 0x72) &&
      at(buf, i, "_live_")
    ) {
      end = tryAt(STRIPE, i - 2);
    }
    const next = Math.max(i + 1, end);
    i = next < len ? buf.indexOf(0x5f, next) : -1;
  }
  each("glpat-", (i) => tryAt(GITLAB, i));
  each("xox", (i) => tryAt(SLACK, i));
  // eyJ: a JWT header (or payload) starts with base64 of `{"`.
  each(0x4a, (i) =>
    i >= 2 && buf[i - 1] === 0x79 && buf[i - 2] === 0x65 ? tryAt(JWT, i - 2) : -1,
  );
  return lastPem;
}

const TRIGGERS = KINDS.filter((k) => k !== PRIVATE_KEY).flatMap((k) => k.triggers);
/** The longest token body a chunk end may hold back (a JWT can be long). */
export const TOKEN_HOLD_MAX = 16 * 1024;

/** Length of the longest suffix of `text` that is a proper prefix of `literal`. */
function partialSuffix(text: string, literal: string): number {
  for (let k = Math.min(literal.length - 1, text.length); k > 0; k--) {
    if (text.endsWith(literal.slice(0, k))) return k;
  }
  return 0;
}

/**
 * Where, near the end of `buf`, a token may have begun that later input could still extend:
 * the index to hold output back from, or -1. Private key blocks are handled by `openPemStart`.
 */
export function openTokenStart(buf: Buffer): number {
  let r = buf.length;
  const floor = Math.max(0, buf.length - TOKEN_HOLD_MAX);
  while (r > floor && isTokenCode(buf[r - 1]!)) r--;
  if (r === buf.length) return -1;
  const found = openTokenIn(latin1(buf, r, buf.length));
  return found < 0 ? -1 : r + found;
}

/** `openTokenStart` within one run of token characters. */
function openTokenIn(text: string): number {
  const r = 0;
  let best = -1;
  const consider = (i: number): void => {
    // Preceded by a word character, a trigger is part of a longer word, not a token start.
    if (i > 0 && isWordCode(text.charCodeAt(i - 1))) return;
    if (best < 0 || i < best) best = i;
  };
  const run = text.slice(r);
  for (const t of TRIGGERS) {
    for (let i = run.indexOf(t); i >= 0; i = run.indexOf(t, i + 1)) consider(r + i);
    const k = partialSuffix(run, t);
    if (k > 0) consider(text.length - k);
  }
  return best;
}

const PEM_BEGIN = "-----BEGIN";
// After a footerless block: separators, then possibly the footer or a header line being written.
const TRAILING_SEP = /^(?:\\[rn]?|\s)*(?:-[-A-Z0-9 ]{0,70}|[A-Za-z-]{1,40}:?)?$/;

/**
 * Whether a private key block begins near the end of `buf` and may continue in later input:
 * the index to hold back from, or -1. `lastPem` is where `detectTokens` saw the last header.
 */
export function openPemStart(buf: Buffer, lastPem: number): number {
  const len = buf.length;
  const partial = partialSuffix(latin1(buf, Math.max(0, len - PEM_BEGIN.length), len), PEM_BEGIN);
  const partialStart = partial > 0 ? len - partial : -1;
  if (lastPem < 0) return partialStart;
  const text = latin1(buf, lastPem, len);
  const body = PRIVATE_KEY.body;
  body.lastIndex = 0;
  const m = body.exec(text);
  if (m === null) {
    // The header itself is still being written.
    if (text.length <= 80 && /^-----BEGIN[A-Z0-9 -]*$/.test(text)) return lastPem;
    return partialStart;
  }
  if (/-----END[A-Z0-9 ]{0,40}PRIVATE KEY-----$/.test(m[0])) return partialStart;
  return TRAILING_SEP.test(text.slice(m[0].length)) ? lastPem : partialStart;
}

/** The header of the private key block starting at `start` (to resume masking after a cap). */
export function pemHeaderAt(buf: Buffer, start: number): string | null {
  const m = /^-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY-----/.exec(
    latin1(buf, start, Math.min(buf.length, start + 80)),
  );
  return m?.[0] ?? null;
}

export const DETECTOR_NAMES = KINDS.map((k) => k.name);

/** The formats, for tests that check the anchored search against trying every position. */
export const TOKEN_KINDS: readonly TokenKind[] = KINDS;
