// Shared helpers for the redactor tests: drive a stream with given chunks and check for leaks.
import type { Transform } from "node:stream";
import { needlesOf } from "../../src/redact/encodings.js";
import type { RegisteredSecret } from "../../src/redact/types.js";

/** Writes the chunks synchronously (no timer can fire in between), ends, returns all output. */
export async function through(stream: Transform, chunks: (string | Buffer)[]): Promise<Buffer> {
  const out: Buffer[] = [];
  stream.on("data", (d: Buffer) => out.push(d));
  const done = new Promise<void>((resolve, reject) => {
    stream.on("end", resolve);
    stream.on("error", reject);
  });
  for (const c of chunks) stream.write(c);
  stream.end();
  await done;
  return Buffer.concat(out);
}

/** Splits a buffer at the given sorted cut points. */
export function splitAt(buf: Buffer, cuts: number[]): Buffer[] {
  const out: Buffer[] = [];
  let prev = 0;
  for (const c of cuts) {
    if (c <= prev || c >= buf.length) continue;
    out.push(buf.subarray(prev, c));
    prev = c;
  }
  out.push(buf.subarray(prev));
  return out;
}

export const oneByteChunks = (buf: Buffer): Buffer[] =>
  Array.from({ length: buf.length }, (_, i) => buf.subarray(i, i + 1));

const MARKER = /\[redacted:[^\]]*\]/g;

/**
 * Every encoding of every secret that appears in the output outside the markers. The pieces
 * between markers are checked one by one, so a marker's own text cannot hide or fake a leak.
 */
export function leaks(output: string, secrets: RegisteredSecret[], minLength = 6): string[] {
  const pieces = output.split(MARKER);
  const found: string[] = [];
  for (const s of secrets) {
    if (s.value.length < minLength) continue;
    for (const needle of needlesOf(s.value, minLength)) {
      if (pieces.some((p) => p.includes(needle)))
        found.push(`${s.name}: ${JSON.stringify(needle)}`);
    }
  }
  return found;
}
