// ANSI colour (SGR) sequences to HTML spans with fixed class names. Only classes come out, never
// a style or an attribute built from log text; every other escape sequence (cursor moves, OSC
// titles and hyperlinks) and control character is dropped, and the text itself is escaped.
import { CONTROL, ESCAPE } from "../../store/log-text.js";
import { escapeHtml } from "./html.js";

interface Style {
  fg: number | null;
  bg: number | null;
  bold: boolean;
  dim: boolean;
  italic: boolean;
  underline: boolean;
}

const plain = (): Style => ({
  fg: null,
  bg: null,
  bold: false,
  dim: false,
  italic: false,
  underline: false,
});

function applySgr(style: Style, params: string): void {
  const codes = params === "" ? [0] : params.split(/[;:]/).map((p) => Number(p || "0"));
  for (let i = 0; i < codes.length; i++) {
    const c = codes[i] as number;
    if (c === 0) Object.assign(style, plain());
    else if (c === 1) style.bold = true;
    else if (c === 2) style.dim = true;
    else if (c === 3) style.italic = true;
    else if (c === 4) style.underline = true;
    else if (c === 22) style.bold = style.dim = false;
    else if (c === 23) style.italic = false;
    else if (c === 24) style.underline = false;
    else if (c >= 30 && c <= 37) style.fg = c - 30;
    else if (c >= 90 && c <= 97) style.fg = c - 90 + 8;
    else if (c === 39) style.fg = null;
    else if (c >= 40 && c <= 47) style.bg = c - 40;
    else if (c >= 100 && c <= 107) style.bg = c - 100 + 8;
    else if (c === 49) style.bg = null;
    else if (c === 38 || c === 48) {
      // 38;5;n (256 colours: the first 16 map to classes) or 38;2;r;g;b (dropped).
      const mode = codes[i + 1];
      if (mode === 5) {
        const n = codes[i + 2] ?? 0;
        if (n < 16) style[c === 38 ? "fg" : "bg"] = n;
        i += 2;
      } else if (mode === 2) i += 4;
    }
  }
}

function classes(s: Style): string {
  const out: string[] = [];
  if (s.fg !== null) out.push(`f${s.fg}`);
  if (s.bg !== null) out.push(`b${s.bg}`);
  if (s.bold) out.push("bo");
  if (s.dim) out.push("di");
  if (s.italic) out.push("it");
  if (s.underline) out.push("un");
  return out.join(" ");
}

/** One log line as escaped HTML with colour spans. Styles do not carry over between lines. */
export function ansiToHtml(line: string): string {
  const style = plain();
  let out = "";
  let last = 0;
  const emit = (text: string) => {
    const clean = text.replace(CONTROL, "");
    if (!clean) return;
    const cls = classes(style);
    out += cls ? `<span class="${cls}">${escapeHtml(clean)}</span>` : escapeHtml(clean);
  };
  for (const m of line.matchAll(ESCAPE)) {
    emit(line.slice(last, m.index));
    last = m.index + m[0].length;
    if (m[2] === "m") applySgr(style, m[1] ?? "");
  }
  emit(line.slice(last));
  return out;
}
