// biome-ignore-all lint/suspicious/noTemplateCurlyInString: shell scripts expand ${VAR} themselves
// Every form of a secret value the leak tests look for in what Airlock stored and printed.
// Two sources: the redactor's own encodings module, and a small independent implementation
// (bit-level base64, byte-wise hex, RFC 3986 percent-encoding, and bash itself for shell
// quoting), so that a mistake shared by the redactor and its encodings cannot hide a leak.
import { execFileSync } from "node:child_process";
import { encodingsOf } from "../../src/redact/encodings.js";

export interface Form {
  kind: string;
  text: string;
}

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** Base64 of `prefix` zero bytes + value, keeping only the characters made of value bits alone. */
export function base64Stable(bytes: Uint8Array, prefix: number): string {
  const bits: number[] = [];
  for (let i = 0; i < prefix; i++) for (let b = 7; b >= 0; b--) bits.push(0);
  for (const byte of bytes) for (let b = 7; b >= 0; b--) bits.push((byte >> b) & 1);
  let out = "";
  const start = 8 * prefix;
  for (let i = 0; i + 6 <= bits.length; i += 6) {
    if (i < start) continue;
    let v = 0;
    for (let b = 0; b < 6; b++) v = (v << 1) | bits[i + b]!;
    out += B64[v];
  }
  return out;
}

/** Whole-value base64 with padding, by hand. */
export function base64Full(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    const chars = [18, 12, 6, 0].map((s) => B64[(n >> s) & 63]);
    const keep = Math.min(4, Math.ceil(((bytes.length - i) * 8) / 6));
    out += chars.slice(0, keep).join("") + "=".repeat(4 - keep);
  }
  return out;
}

const urlSafe = (s: string) => s.replace(/\+/g, "-").replace(/\//g, "_");

export function hexOf(bytes: Uint8Array): string {
  const digits = "0123456789abcdef";
  let out = "";
  for (const b of bytes) out += digits[b >> 4]! + digits[b & 15]!;
  return out;
}

/** RFC 3986: everything but unreserved characters percent-encoded (upper-case hex). */
export function percentEncode(value: string): string {
  let out = "";
  for (const b of Buffer.from(value, "utf8")) {
    const c = String.fromCharCode(b);
    out += /[A-Za-z0-9\-._~]/.test(c) ? c : `%${hexOf(Uint8Array.of(b)).toUpperCase()}`;
  }
  return out;
}

/** The password of a URL as the WHATWG URL parser writes it (Node, browsers): few characters escaped. */
export function urlUserinfo(value: string): string {
  const u = new URL("https://host.invalid/");
  u.password = value;
  return u.password;
}

export function xmlEscape(value: string): string {
  return value
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;");
}

/** How bash itself quotes the value (`printf %q`, `${v@Q}`). The value travels in the environment. */
export function bashQuoted(value: string): Form[] {
  const run = (script: string) =>
    execFileSync("bash", ["--norc", "--noprofile", "-c", script], {
      env: { PATH: process.env.PATH, V: value },
      encoding: "utf8",
    });
  return [
    { kind: "bash-printf-q", text: run('printf %q "$V"') },
    { kind: "bash-@Q", text: run('printf %s "${V@Q}"') },
  ];
}

/** The independent forms of one value. */
export function independentForms(value: string): Form[] {
  const bytes = Buffer.from(value, "utf8");
  const forms: Form[] = [{ kind: "raw", text: value }];
  for (const prefix of [0, 1, 2]) {
    const s = base64Stable(bytes, prefix);
    forms.push({ kind: `b64@${prefix}`, text: s }, { kind: `b64url@${prefix}`, text: urlSafe(s) });
  }
  const full = base64Full(bytes);
  forms.push(
    { kind: "b64", text: full },
    { kind: "b64-nopad", text: full.replace(/=+$/, "") },
    { kind: "b64url", text: urlSafe(full) },
  );
  forms.push(
    { kind: "hex", text: hexOf(bytes) },
    { kind: "HEX", text: hexOf(bytes).toUpperCase() },
    { kind: "pct-rfc3986", text: percentEncode(value) },
    { kind: "pct-encodeURIComponent", text: encodeURIComponent(value) },
    { kind: "pct-url-userinfo", text: urlUserinfo(value) },
    { kind: "json", text: JSON.stringify(value).slice(1, -1) },
    { kind: "xml", text: xmlEscape(value) },
    ...bashQuoted(value),
  );
  // A long value put through `base64` alone comes out in lines (76 or 64 columns): none may show.
  const stable = base64Stable(bytes, 0);
  for (const width of [76, 64]) {
    for (let at = 0; at + width <= stable.length; at += width) {
      forms.push({ kind: `b64-line-${width}`, text: stable.slice(at, at + width) });
    }
  }
  if (/\n/.test(value)) {
    for (const line of value.split("\n")) {
      if (line.trim().length >= 6) forms.push({ kind: "line", text: line });
    }
    forms.push({ kind: "newlines-as-spaces", text: value.replace(/\n/g, " ") });
  }
  return forms;
}

/** Independent forms plus every encoding the redactor knows (long enough to mean something). */
export function allForms(value: string): Form[] {
  const own = independentForms(value);
  const theirs = encodingsOf(value)
    .filter((e) => e.text.length >= 8)
    .map((e) => ({ kind: `encodings:${e.kind}`, text: e.text }));
  const seen = new Set<string>();
  return [...own, ...theirs].filter((f) => {
    if (seen.has(f.text)) return false;
    seen.add(f.text);
    return true;
  });
}

export interface Secret {
  name: string;
  value: string;
}

export interface Leak {
  secret: string;
  kind: string;
  where: string;
  /** Where in the text, with a little context (the value itself is test data). */
  context: string;
}

/** Every form of every secret found in `text`. */
export function findLeaks(text: string, where: string, secrets: Secret[]): Leak[] {
  const leaks: Leak[] = [];
  for (const s of secrets) {
    for (const f of allForms(s.value)) {
      const at = text.indexOf(f.text);
      if (at >= 0) {
        leaks.push({
          secret: s.name,
          kind: f.kind,
          where,
          context: JSON.stringify(text.slice(Math.max(0, at - 40), at + f.text.length + 20)),
        });
      }
    }
  }
  return leaks;
}

/**
 * The longest run of a single-line value found in `text`: a value written in pieces must not
 * show up in pieces either (a long prefix is most of a secret).
 */
export function longestPiece(text: string, value: string): string {
  let best = "";
  for (let i = 0; i < value.length; i++) {
    // Grow the piece starting at i while it is still found.
    let lo = best.length + 1;
    while (i + lo <= value.length && text.includes(value.slice(i, i + lo))) {
      best = value.slice(i, i + lo);
      lo++;
    }
  }
  return best;
}
