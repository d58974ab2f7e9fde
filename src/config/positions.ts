// Where a value sits in the YAML text: turns a field path into line and column.
import { type Document, isMap, isScalar, isSeq, type LineCounter } from "yaml";
import type { Path } from "./checks.js";

export interface Position {
  line: number;
  col: number;
}

interface Ranged {
  range?: [number, number, number] | null;
}

const start = (n: unknown): number | undefined => (n as Ranged | null)?.range?.[0];

/**
 * The position of the node at `path`, or of the nearest existing ancestor when the path runs
 * past what the file holds (a missing field points at the mapping that lacks it).
 * `at: "key"` points at the key of the last element instead of its value.
 */
export function locate(doc: Document, lines: LineCounter, path: Path, at?: "key"): Position {
  let node: unknown = doc.contents;
  let key: unknown;
  let offset = start(node) ?? 0;
  for (const seg of path) {
    if (isMap(node)) {
      const pair = node.items.find(
        (p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(seg),
      );
      if (!pair) break;
      key = pair.key;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === "number" && seg < node.items.length) {
      key = undefined;
      node = node.items[seg];
    } else {
      break;
    }
    // An empty value (`needs:`) has no text of its own: point at its key.
    const s = start(node);
    const emptyScalar = isScalar(node) && node.value === null && s === (node as Ranged).range?.[1];
    offset = s === undefined || emptyScalar ? (start(key) ?? offset) : s;
  }
  if (at === "key" && key !== undefined) offset = start(key) ?? offset;
  return positionOf(lines, offset);
}

export function positionOf(lines: LineCounter, offset: number): Position {
  const { line, col } = lines.linePos(offset);
  return { line, col };
}
