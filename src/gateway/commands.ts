// Commands in pull request comments. A command is a line that starts with "/" in column one,
// outside fenced code blocks and HTML comments; quoted ("> /test") and indented lines, and lines
// that carry inline code, are prose. Comment text is untrusted: arguments are checked against
// strict patterns and only their parsed form leaves this module.

export type Command =
  | { kind: "ok-to-test"; sha?: string }
  | { kind: "test"; all: true }
  | { kind: "test"; all: false; names: string[] }
  | { kind: "retest" }
  | { kind: "cancel" }
  | { kind: "mirror" };

export interface ParsedComment {
  commands: Command[];
  /** Lines that looked like Airlock commands but were malformed, with what to write instead. */
  problems: string[];
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;
const HEX = /^[0-9A-Fa-f]{1,64}$/;
const MAX_NAMES = 100;
const FENCE = /^ {0,3}(`{3,}|~{3,})/;

export function parseComment(body: string): ParsedComment {
  const commands: Command[] = [];
  const problems: string[] = [];
  let fence: string | undefined;
  let inHtmlComment = false;
  for (const line of body.replace(/\r\n?/g, "\n").split("\n")) {
    if (fence !== undefined) {
      const m = FENCE.exec(line);
      // A fence closes on the same character, at least as long, with nothing after it.
      if (
        m?.[1] &&
        m[1][0] === fence[0] &&
        m[1].length >= fence.length &&
        !line.slice(m[0].length).trim()
      ) {
        fence = undefined;
      }
      continue;
    }
    if (inHtmlComment) {
      if (line.includes("-->")) inHtmlComment = false;
      continue;
    }
    const open = FENCE.exec(line);
    if (open?.[1]) {
      fence = open[1];
      continue;
    }
    if (line.includes("<!--") && !line.slice(line.indexOf("<!--")).includes("-->")) {
      inHtmlComment = true;
    }
    if (!line.startsWith("/") || line.includes("`") || line.includes("<!--")) continue;
    const parsed = parseLine(line.trimEnd());
    if (parsed === undefined) continue;
    if (typeof parsed === "string") problems.push(parsed);
    else commands.push(parsed);
  }
  return { commands, problems };
}

/** One command line: a Command, a problem description, or undefined for someone else's command. */
function parseLine(line: string): Command | string | undefined {
  const [word = "", ...rest] = line.split(/[ \t]+/);
  const args = rest.filter(Boolean);
  switch (word.toLowerCase()) {
    case "/ok-to-test": {
      if (args.length === 0) return { kind: "ok-to-test" };
      if (args.length === 1 && HEX.test(args[0]!)) return { kind: "ok-to-test", sha: args[0]! };
      return "`/ok-to-test` takes nothing, or the full head commit SHA: `/ok-to-test <sha>`";
    }
    case "/test": {
      const names = args
        .join(",")
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean);
      if (names.some((n) => n.toLowerCase() === "all")) return { kind: "test", all: true };
      if (names.length === 0) {
        return "`/test` needs what to run: `/test all` or `/test aws-infra,scw-all`";
      }
      if (names.length > MAX_NAMES || !names.every((n) => NAME.test(n))) {
        return "`/test` takes test group names made of letters, digits, `_`, `.` and `-`, separated by commas";
      }
      return { kind: "test", all: false, names: [...new Set(names)] };
    }
    case "/retest":
    case "/cancel":
    case "/mirror": {
      const kind = word.toLowerCase().slice(1) as "retest" | "cancel" | "mirror";
      if (args.length > 0) return `\`/${kind}\` takes no arguments`;
      return { kind };
    }
    default:
      return undefined;
  }
}
