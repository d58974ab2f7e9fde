// Reading a secret value for the CLI: from stdin when it is a pipe or file, or from a hidden
// prompt on a terminal. Never from argv, where `ps` and shell history would see it.
import type { Readable, Writable } from "node:stream";
import { SecretsError } from "./errors.js";

export interface SecretInput {
  stdin: Readable & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  /** Where the prompt goes (stderr, so stdout stays clean). */
  prompt: Writable;
}

/** Drops one trailing newline: `echo value |` and files written by editors end with one. */
export function stripFinalNewline(s: string): string {
  return s.replace(/\r?\n$/, "");
}

async function readAll(stdin: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stdin) chunks.push(typeof c === "string" ? Buffer.from(c) : c);
  return Buffer.concat(chunks).toString("utf8");
}

/** A prompt that echoes nothing. Ctrl-C aborts; Enter ends the value. */
function hiddenPrompt(io: SecretInput, label: string): Promise<string> {
  const { stdin, prompt } = io;
  prompt.write(`${label}: `);
  stdin.setRawMode?.(true);
  stdin.resume();
  return new Promise((resolve, reject) => {
    let value = "";
    const done = (err?: Error) => {
      stdin.off("data", onData);
      stdin.setRawMode?.(false);
      stdin.pause();
      prompt.write("\n");
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: Buffer | string) => {
      for (const ch of chunk.toString("utf8")) {
        if (ch === "\r" || ch === "\n" || ch === "\u0004") return done();
        if (ch === "\u0003") return done(new SecretsError("cancelled"));
        if (ch === "\u007f" || ch === "\b") value = value.slice(0, -1);
        else value += ch;
      }
    };
    stdin.on("data", onData);
  });
}

/** The value for SET/KEY: stdin, or a hidden prompt on a terminal. Refuses an empty value. */
export async function readSecretValue(io: SecretInput, what: string): Promise<string> {
  const value = io.stdin.isTTY
    ? await hiddenPrompt(io, `value for ${what} (input hidden)`)
    : stripFinalNewline(await readAll(io.stdin));
  if (value.length === 0) {
    throw new SecretsError(
      `refusing an empty value for ${what}: pipe it on stdin (e.g. \`airlock secrets set SET KEY < file\`) or type it at the prompt`,
    );
  }
  return value;
}

/** A master key from stdin (for `rekey --new-key-stdin`). */
export async function readKeyText(io: SecretInput): Promise<string> {
  return io.stdin.isTTY ? hiddenPrompt(io, "new master key (input hidden)") : readAll(io.stdin);
}
