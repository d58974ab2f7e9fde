// Reads .airlock.yml: YAML with positions, the zod schema, then whole-file checks.
// Every mistake is reported as file:line:col, the field path, and what to do about it.
import { readFileSync, statSync } from "node:fs";
import { LineCounter, parseDocument } from "yaml";
import type { z } from "zod";
import { checkConfig, type Path, type Problem } from "./checks.js";
import { guardConfigText, MAX_CONFIG_BYTES, tooLargeIssue } from "./guard.js";
import { configJsonSchema } from "./jsonschema.js";
import { locate, positionOf } from "./positions.js";
import { type Config, ConfigSchema } from "./schema.js";
import { didYouMean } from "./suggest.js";

export interface ConfigIssue {
  file: string;
  /** 1-based; 0 when the problem is the file itself (missing, unreadable). */
  line: number;
  col: number;
  /** The field, e.g. `jobs.deploy.needs[0]`; "" for the file or its syntax. */
  path: string;
  message: string;
}

export class ConfigError extends Error {
  constructor(readonly issues: ConfigIssue[]) {
    super(issues.map(formatIssue).join("\n"));
    this.name = "ConfigError";
  }
}

export function formatIssue(i: ConfigIssue): string {
  const where = i.line > 0 ? `${i.file}:${i.line}:${i.col}` : i.file;
  return `${where}: ${i.path ? `${i.path}: ` : ""}${i.message}`;
}

/** `jobs.deploy.needs[0]`; keys that are not plain words are quoted: `jobs["a.b"]`. */
export function formatPath(path: Path): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else if (/^[A-Za-z0-9_-]+$/.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

const MAX_ALIASES = 100;
const configError = (issues: ConfigIssue[]) => new ConfigError(issues);

export function loadConfig(file: string): Config {
  const fail = (message: string): never => {
    throw new ConfigError([{ file, line: 0, col: 0, path: "", message }]);
  };
  let size: number;
  try {
    const st = statSync(file);
    if (st.isDirectory()) fail("is a directory; expected the pipeline file .airlock.yml");
    size = st.size;
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") {
      return fail(
        "not found: create it at the root of your project, starting with `version: 1` and a `jobs:` map (see docs/configuration.md)",
      );
    }
    return fail(`cannot be read (${code ?? "unknown error"})`);
  }
  if (size > MAX_CONFIG_BYTES) throw configError([tooLargeIssue(file, size)]);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    return fail(`cannot be read (${(e as NodeJS.ErrnoException).code ?? "unknown error"})`);
  }
  return parseConfig(text, file);
}

/** Parses and checks a pipeline file's text (size and nesting caps first); throws ConfigError. */
export function parseConfig(text: string, file: string): Config {
  guardConfigText(text, file, configError);
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true, uniqueKeys: true });
  const issue = (path: Path, message: string, at?: "key", missing = false): ConfigIssue => {
    // A missing field is reported on the mapping that lacks it.
    const pos = missing ? locate(doc, lines, path, "key") : locate(doc, lines, path, at);
    return { file, ...pos, path: formatPath(path), message };
  };

  const syntax = [...doc.errors, ...doc.warnings];
  if (syntax.length > 0) {
    const issues = new Map<string, ConfigIssue>();
    for (const e of syntax) {
      const pos = e.linePos?.[0] ?? positionOf(lines, e.pos[0]);
      // prettyErrors appends the position and a snippet; we print our own position.
      const message = e.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "");
      // One error per spot: the parser's follow-on errors at the same place add nothing.
      const key = `${pos.line}:${pos.col}`;
      if (!issues.has(key))
        issues.set(key, { file, ...pos, path: "", message: `YAML: ${message}` });
    }
    throw new ConfigError(sortIssues([...issues.values()]));
  }
  if (doc.contents === null) {
    throw new ConfigError([
      {
        file,
        line: 1,
        col: 1,
        path: "",
        message: "the file is empty: start it with `version: 1` and a `jobs:` map",
      },
    ]);
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIASES });
  } catch (e) {
    throw new ConfigError([
      { file, line: 1, col: 1, path: "", message: `YAML: ${(e as Error).message}` },
    ]);
  }
  normalize(data);

  const parsed = ConfigSchema.safeParse(data, { error: friendlyMessage });
  if (!parsed.success) {
    const issues = parsed.error.issues.flatMap((iss) => describe(iss, data, issue));
    throw new ConfigError(sortIssues(issues));
  }
  const problems: Problem[] = checkConfig(parsed.data);
  if (problems.length > 0) {
    throw new ConfigError(sortIssues(problems.map((p) => issue(p.path, p.message, p.at))));
  }
  return parsed.data;
}

/** A secret set with a `vault:` block and no `backend` means the vault backend. */
function normalize(data: unknown): void {
  const sets = (data as { secrets?: unknown } | null)?.secrets;
  if (!isRecord(sets)) return;
  for (const set of Object.values(sets)) {
    if (isRecord(set) && set.vault !== undefined && set.backend === undefined)
      set.backend = "vault";
  }
}

type IssueAt = (path: Path, message: string, at?: "key", missing?: boolean) => ConfigIssue;

function describe(iss: z.core.$ZodIssue, data: unknown, at: IssueAt): ConfigIssue[] {
  const path = iss.path as Path;
  switch (iss.code) {
    case "unrecognized_keys": {
      const known = knownKeys(path);
      return iss.keys.map((k) => {
        const hint = didYouMean(k, known);
        const list =
          !hint && known.length > 0 && known.length <= 16
            ? `; known fields: ${known.join(", ")}`
            : "";
        return at([...path, k], `unknown field "${k}"${hint}${list}`, "key");
      });
    }
    case "invalid_key":
      return [at(path, iss.issues[0]?.message ?? "invalid name", "key")];
    case "invalid_type":
      if (valueAt(data, path) === undefined && path.length > 0) {
        const field = String(path[path.length - 1]);
        const hint = FIELD_HINTS[field] ? ` (${FIELD_HINTS[field]})` : "";
        return [at(path.slice(0, -1), `missing required field "${field}"${hint}`, undefined, true)];
      }
      return [at(path, iss.message)];
    case "invalid_value": {
      const v = valueAt(data, path);
      const options = iss.values.filter((o): o is string => typeof o === "string");
      const hint = typeof v === "string" ? didYouMean(v, options) : "";
      return [at(path, `${iss.message}${hint}`)];
    }
    default:
      return [at(path, iss.message)];
  }
}

const FIELD_HINTS: Record<string, string> = {
  run: "the job's shell script",
  version: "add `version: 1` at the top of the file",
  jobs: "a map of job names to jobs",
  path: "where the secret lives, e.g. secret/data/functional-tests",
};

/** Messages for the cases the schema does not word itself. */
const friendlyMessage: z.core.$ZodErrorMap = (iss) => {
  switch (iss.code) {
    case "invalid_type":
      return iss.input === undefined
        ? "required field is missing"
        : `expected ${expectedName(iss.expected)}, got ${kindOf(iss.input)}${typeHint(iss.expected, iss.input)}`;
    case "invalid_value":
      return iss.values.length === 1
        ? `expected ${JSON.stringify(iss.values[0])}, got ${kindOf(iss.input)}`
        : `expected one of ${iss.values.map((v) => JSON.stringify(v)).join(", ")}; got ${kindOf(iss.input)}`;
    case "too_small":
      if (iss.origin === "array")
        return Number(iss.minimum) <= 1
          ? "must not be an empty list"
          : `needs at least ${iss.minimum} items`;
      if (iss.origin === "string") return "must not be empty";
      return `must be at least ${iss.minimum}`;
    case "too_big":
      return `must be at most ${iss.maximum}`;
    case "invalid_union":
      return `${kindOf(iss.input)} is not allowed here`;
    default:
      return undefined;
  }
};

function expectedName(t: string): string {
  const names: Record<string, string> = {
    string: "a string",
    number: "a number",
    int: "a whole number",
    boolean: "true or false",
    array: "a list",
    object: "a mapping",
    record: "a mapping",
  };
  return names[t] ?? t;
}

function kindOf(v: unknown): string {
  if (v === null || v === undefined) return "nothing";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  if (typeof v === "string")
    return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  if (typeof v === "number") return `the number ${v}`;
  return String(v);
}

function typeHint(expected: string, input: unknown): string {
  if (expected === "array" && (typeof input === "string" || typeof input === "number")) {
    return ` (write a list: [${String(input)}])`;
  }
  if ((expected === "object" || expected === "record") && input === null) {
    return " (is what belongs to it indented below it?)";
  }
  return "";
}

function valueAt(data: unknown, path: Path): unknown {
  let v = data;
  for (const seg of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<string, unknown>)[seg as string];
  }
  return v;
}

/** The field names the JSON Schema allows at `path`, for "did you mean". */
function knownKeys(path: Path): string[] {
  let s: unknown = configJsonSchema();
  for (const seg of path) {
    if (!isRecord(s)) return [];
    if (typeof seg === "number") s = s.items;
    else if (isRecord(s.properties) && seg in s.properties) s = s.properties[seg];
    else s = s.additionalProperties;
  }
  return isRecord(s) && isRecord(s.properties) ? Object.keys(s.properties) : [];
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function sortIssues(issues: ConfigIssue[]): ConfigIssue[] {
  const seen = new Set<string>();
  return issues
    .filter((i) => {
      const k = formatIssue(i);
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    })
    .sort((a, b) => a.line - b.line || a.col - b.col);
}
