// The caps every `.airlock.yml` passes before it is parsed, on every path (the gateway's base and
// head, `airlock run` from a commit or the working tree): a pull request's file is hostile input,
// and a huge or deeply nested one must be refused in one clear sentence, not crash the parser
// (whose composer recurses once per level) or stall the process.
import { Lexer, LineCounter, Parser } from "yaml";
import type { ConfigError, ConfigIssue } from "./loader.js";

/** No pipeline needs more; GitHub's contents API serves files up to about this size. */
export const MAX_CONFIG_BYTES = 1024 * 1024;
/** Nested mappings and lists; real pipelines use fewer than ten. */
export const MAX_CONFIG_NESTING = 64;

const COLLECTIONS = new Set(["block-map", "block-seq", "flow-collection"]);

type MakeError = (issues: ConfigIssue[]) => ConfigError;

/** The refusal of a file over the size cap (where possible, before it is even read). */
export function tooLargeIssue(file: string, bytes: number): ConfigIssue {
  return {
    file,
    line: 0,
    col: 0,
    path: "",
    message: `configuration rejected: the file is ${bytes} bytes, over the limit of ${MAX_CONFIG_BYTES} (1 MiB) for a pipeline file`,
  };
}

/**
 * Refuses text over the size cap, or nested deeper than the nesting cap. Nesting is measured on
 * YAML's token stream with the parser's own (iterative) stack, before any document is built.
 */
export function guardConfigText(text: string, file: string, error: MakeError): void {
  const bytes = Buffer.byteLength(text, "utf8");
  if (bytes > MAX_CONFIG_BYTES) throw error([tooLargeIssue(file, bytes)]);
  const lines = new LineCounter();
  const parser = new Parser(lines.addNewLine);
  let offset = 0;
  for (const lexeme of new Lexer().lex(text)) {
    for (const _ of parser.next(lexeme));
    let depth = 0;
    for (const t of parser.stack) if (COLLECTIONS.has(t.type)) depth++;
    if (depth > MAX_CONFIG_NESTING) {
      const at = lines.linePos(offset);
      throw error([
        {
          file,
          line: at.line,
          col: at.col,
          path: "",
          message: `configuration rejected: nested deeper than ${MAX_CONFIG_NESTING} levels`,
        },
      ]);
    }
    offset += lexeme.length;
  }
}
