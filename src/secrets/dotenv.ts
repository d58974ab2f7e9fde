// A dotenv parser for `airlock secrets import --env-file`: KEY=value lines, optional `export`,
// comments, single quotes (literal), double quotes (escapes, may span lines), unquoted values
// with trailing ` # comments`. Errors name the line, never the value.
import { SecretsError } from "./errors.js";

export interface DotenvEntry {
  key: string;
  value: string;
  line: number;
}

const KEY_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
const ESCAPES: Record<string, string> = { n: "\n", r: "\r", t: "\t", '"': '"', "\\": "\\", $: "$" };

export function parseDotenv(text: string, file: string): DotenvEntry[] {
  const src = text.replace(/^\uFEFF/, "").replace(/\r\n?/g, "\n");
  const entries: DotenvEntry[] = [];
  const seen = new Map<string, number>();
  let i = 0;
  let line = 1;
  const fail = (at: number, msg: string): never => {
    throw new SecretsError(`${file}:${at}: ${msg}`);
  };
  while (i < src.length) {
    const eol = src.indexOf("\n", i) === -1 ? src.length : src.indexOf("\n", i);
    const raw = src.slice(i, eol);
    const trimmed = raw.trim();
    const startLine = line;
    if (trimmed === "" || trimmed.startsWith("#")) {
      i = eol + 1;
      line++;
      continue;
    }
    const m = /^\s*(?:export\s+)?([^=\s]+)\s*=\s*/.exec(raw);
    if (!m) fail(startLine, "expected KEY=value");
    const key = m![1]!;
    if (!KEY_RE.test(key)) {
      fail(
        startLine,
        `${JSON.stringify(key.slice(0, 60))} is not a variable name ([A-Za-z_][A-Za-z0-9_]*)`,
      );
    }
    let j = i + m![0].length;
    let value = "";
    const q = src[j];
    if (q === "'" || q === '"') {
      j++;
      let closed = false;
      while (j < src.length) {
        const c = src[j]!;
        if (c === q) {
          closed = true;
          j++;
          break;
        }
        if (c === "\n") line++;
        if (q === '"' && c === "\\" && j + 1 < src.length) {
          const n = src[j + 1]!;
          value += ESCAPES[n] ?? `\\${n}`;
          j += 2;
          continue;
        }
        value += c;
        j++;
      }
      if (!closed) fail(startLine, `the value of ${key} opens a ${q} quote that is never closed`);
      const rest = src.slice(j, src.indexOf("\n", j) === -1 ? src.length : src.indexOf("\n", j));
      if (rest.trim() !== "" && !rest.trim().startsWith("#")) {
        fail(line, `unexpected text after the closing quote of ${key}`);
      }
      j += rest.length;
    } else {
      const rest = src.slice(j, eol);
      // An unquoted value ends at " #": a comment, as in most dotenv dialects.
      const hash = rest.search(/\s#/);
      value = (hash === -1 ? rest : rest.slice(0, hash)).trim();
      j = eol;
    }
    if (seen.has(key)) fail(startLine, `${key} is also set on line ${seen.get(key)}`);
    seen.set(key, startLine);
    entries.push({ key, value, line: startLine });
    i = j + 1;
    line++;
  }
  return entries;
}
