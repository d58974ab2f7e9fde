// Every form in which a registered value is likely to reach a log by accident.
// Each form becomes a needle of the matcher; a value is caught in any of them.

export interface Encoding {
  kind: string;
  text: string;
}

/**
 * The base64 characters that depend only on the value when it sits at byte `offset` (0, 1 or 2)
 * of a larger base64 stream: the first characters mix in the preceding bytes and the last one
 * mixes in the following byte, so only the inner run is stable.
 */
export function base64Inner(bytes: Uint8Array, offset: 0 | 1 | 2): string {
  const padded = Buffer.concat([Buffer.alloc(offset), bytes]);
  const all = padded.toString("base64");
  const first = Math.ceil((8 * offset) / 6);
  const end = Math.floor((8 * offset + 8 * bytes.length) / 6);
  return all.slice(first, end);
}

const toUrlSafe = (s: string): string => s.replace(/\+/g, "-").replace(/\//g, "_");

/** `encodeURIComponent` also leaves `!'()*` alone; strict encoders escape them. */
const strictUri = (s: string): string =>
  encodeURIComponent(s).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );

const xmlEscape = (s: string): string =>
  s
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;");

/** A URL's password as the WHATWG URL parser writes it (Node, browsers): few characters escaped. */
function urlUserinfo(value: string): string {
  const u = new URL("https://host.invalid/");
  u.password = value;
  return u.password;
}

/** Characters bash's `printf %q` escapes with a backslash (its `sh_backslash_quote` table). */
const BASH_SPECIAL = new Set(" \t\n!\"$&'()*,;<>?[\\]^`{|}");

/**
 * The value as bash's `printf %q` writes it, for printable ASCII values (others bash writes in
 * its $'...' form, which has no needle here).
 */
function bashPrintfQ(value: string): string | null {
  if (!/^[\x20-\x7e]*$/.test(value) || value.length === 0) return null;
  let out = "";
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    const prev = i > 0 ? value[i - 1] : undefined;
    const special =
      BASH_SPECIAL.has(c) ||
      (c === "#" && i === 0) ||
      (c === "~" && (i === 0 || prev === ":" || prev === "="));
    out += special ? `\\${c}` : c;
  }
  return out;
}

/** The raw value and everything derived from it (whole-value forms only; see `linesOf`). */
function wholeValueEncodings(value: string): Encoding[] {
  const bytes = Buffer.from(value, "utf8");
  const out: Encoding[] = [{ kind: "raw", text: value }];
  for (const offset of [0, 1, 2] as const) {
    const inner = base64Inner(bytes, offset);
    out.push({ kind: `base64@${offset}`, text: inner });
    out.push({ kind: `base64url@${offset}`, text: toUrlSafe(inner) });
  }
  const b64 = bytes.toString("base64");
  out.push({ kind: "base64", text: b64 });
  out.push({ kind: "base64-nopad", text: b64.replace(/=+$/, "") });
  out.push({ kind: "base64url", text: toUrlSafe(b64) });
  out.push({ kind: "base64url-nopad", text: toUrlSafe(b64).replace(/=+$/, "") });
  const hex = bytes.toString("hex");
  out.push({ kind: "hex", text: hex });
  out.push({ kind: "hex-upper", text: hex.toUpperCase() });
  const uri = encodeURIComponent(value);
  out.push({ kind: "url", text: uri });
  out.push({ kind: "url-strict", text: strictUri(value) });
  out.push({ kind: "url-lower", text: uri.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()) });
  out.push({ kind: "url-form", text: uri.replace(/%20/g, "+") });
  out.push({ kind: "url-userinfo", text: urlUserinfo(value) });
  out.push({ kind: "json", text: JSON.stringify(value).slice(1, -1) });
  // Inside quotes the surrounding quote characters are not part of the value; the escaped
  // inner text is what differs from the raw value.
  out.push({ kind: "shell-single", text: value.replace(/'/g, "'\\''") });
  out.push({ kind: "shell-double", text: value.replace(/([\\"$`])/g, "\\$1") });
  const printfQ = bashPrintfQ(value);
  if (printfQ !== null) out.push({ kind: "shell-printf-q", text: printfQ });
  out.push({ kind: "xml", text: xmlEscape(value) });
  return out;
}

/** Forms of a multi-line value: each line, newlines as spaces, and CRLF (a pty turns \n into \r\n). */
function multiLineForms(value: string, minLength: number): Encoding[] {
  if (!/[\r\n]/.test(value)) return [];
  const out: Encoding[] = [];
  for (const line of value.split(/\r?\n|\r/)) {
    if (line.length >= minLength) out.push({ kind: "line", text: line });
    const trimmed = line.trim();
    if (trimmed !== line && trimmed.length >= minLength) {
      out.push({ kind: "line-trimmed", text: trimmed });
    }
  }
  out.push({ kind: "spaced", text: value.replace(/\r?\n|\r/g, " ") });
  out.push({ kind: "whitespace-normalised", text: value.trim().replace(/\s+/g, " ") });
  out.push({ kind: "crlf", text: value.replace(/\r?\n/g, "\r\n") });
  return out;
}

/** Line widths of the common base64 tools: coreutils `base64` (76) and `openssl base64` (64). */
const BASE64_WRAPS = [76, 64];

/**
 * A long value base64-encoded on its own (`base64 key.json`, `echo "$TOKEN" | base64`) comes out
 * in lines; its stable run starts the stream, so the line breaks fall at fixed places in it. Only
 * these whole-value forms are known: a value inside a larger input breaks at unknown places.
 */
function wrappedBase64(value: string): Encoding[] {
  const inner = base64Inner(Buffer.from(value, "utf8"), 0);
  return BASE64_WRAPS.filter((w) => inner.length > w).flatMap((w) => {
    const lines = inner.match(new RegExp(`.{1,${w}}`, "g")) ?? [];
    return [
      { kind: `base64-wrapped-${w}`, text: lines.join("\n") },
      { kind: `base64-wrapped-${w}-crlf`, text: lines.join("\r\n") },
    ];
  });
}

/** All encodings of a value, labelled (duplicates kept: tests check each kind). */
export function encodingsOf(value: string, minLength = 6): Encoding[] {
  const out = [...wholeValueEncodings(value), ...wrappedBase64(value)];
  for (const form of multiLineForms(value, minLength)) {
    out.push(form);
    // A multi-line value echoed on one line is often also JSON- or base64-encoded that way.
    if (form.kind === "whitespace-normalised" || form.kind === "crlf") {
      for (const e of wholeValueEncodings(form.text)) {
        if (e.kind !== "raw") out.push({ kind: `${form.kind}+${e.kind}`, text: e.text });
      }
    }
  }
  return out;
}

/**
 * The distinct needles for a value. Forms shorter than `floor` are dropped: the stable base64
 * run of a short value can be a few characters, and matching those would mask ordinary text.
 */
export function needlesOf(value: string, minLength = 6, floor = 4): string[] {
  const seen = new Set<string>();
  for (const e of encodingsOf(value, minLength)) {
    if (e.text.length >= Math.max(1, Math.min(floor, minLength))) seen.add(e.text);
  }
  return [...seen];
}
