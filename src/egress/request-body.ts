// Where a plain HTTP request's body ends, so that the bytes after it (a next request on a kept
// connection) never reach the destination undecided. A chunked body is decoded and sent on in
// chunks of the proxy's own framing, so the destination cannot read its end elsewhere than here.
import { type Head, header, tokens } from "./http-head.js";

export type BodyStep = { out: Buffer[]; done: boolean } | { error: string };

export interface RequestBody {
  /** The headers that frame the body for the destination. */
  readonly headers: [string, string][];
  /** Takes the next bytes from the job: what to send on, and whether the body is complete. */
  push(chunk: Buffer): BodyStep;
}

/** How the body of request `h` is framed; a message when the proxy does not accept it. */
export function requestBody(h: Head): RequestBody | string {
  const te = header(h, "transfer-encoding");
  const cl = header(h, "content-length");
  if (te !== undefined) {
    if (cl !== undefined) return "a request with both Transfer-Encoding and Content-Length";
    const codings = [...tokens(te)];
    if (codings.length !== 1 || codings[0] !== "chunked")
      return `Transfer-Encoding ${JSON.stringify(te)} (only chunked is passed on)`;
    return new Chunked();
  }
  if (cl === undefined) return new Sized(0);
  const values = new Set(cl.split(",").map((v) => v.trim()));
  const [only] = values;
  if (values.size !== 1 || !/^\d{1,15}$/.test(only!)) return `Content-Length ${JSON.stringify(cl)}`;
  return new Sized(Number(only));
}

class Sized implements RequestBody {
  readonly headers: [string, string][];
  #left: number;

  constructor(n: number) {
    this.#left = n;
    this.headers = n > 0 ? [["content-length", String(n)]] : [];
  }

  push(chunk: Buffer): BodyStep {
    const take = chunk.subarray(0, this.#left);
    this.#left -= take.length;
    return { out: take.length > 0 ? [take] : [], done: this.#left === 0 };
  }
}

const SIZE_LINE = /^([0-9a-fA-F]{1,12})[ \t]*(?:;.*)?$/;
const MAX_LINE = 4096;

class Chunked implements RequestBody {
  readonly headers: [string, string][] = [["transfer-encoding", "chunked"]];
  /** size: reading a chunk's size line; data: its bytes; crlf: the line end after them; trailer. */
  #state: "size" | "data" | "crlf" | "trailer" = "size";
  #line = "";
  #left = 0;

  push(chunk: Buffer): BodyStep {
    const out: Buffer[] = [];
    let p = 0;
    while (p < chunk.length) {
      if (this.#state === "data") {
        const take = chunk.subarray(p, p + this.#left);
        out.push(Buffer.from(`${take.length.toString(16)}\r\n`), take, CRLF);
        p += take.length;
        this.#left -= take.length;
        if (this.#left === 0) this.#state = "crlf";
        continue;
      }
      // A line: a size line, the end of a chunk's data, or a trailer line.
      const nl = chunk.indexOf(10, p);
      this.#line += chunk.toString("latin1", p, nl < 0 ? chunk.length : nl + 1);
      p = nl < 0 ? chunk.length : nl + 1;
      if (this.#line.length > MAX_LINE) return { error: "a chunked body's line is too long" };
      if (nl < 0) break;
      if (!this.#line.endsWith("\r\n")) return { error: "a chunked body's line ends without CR" };
      const line = this.#line.slice(0, -2);
      this.#line = "";
      if (this.#state === "crlf") {
        if (line !== "") return { error: "a chunk is longer than its size" };
        this.#state = "size";
      } else if (this.#state === "trailer") {
        // Trailer fields are dropped; the blank line ends the body.
        if (line === "") return { out: [...out, LAST], done: true };
      } else {
        const m = SIZE_LINE.exec(line);
        if (!m) return { error: `a chunk size of ${JSON.stringify(line.slice(0, 40))}` };
        this.#left = Number.parseInt(m[1]!, 16);
        this.#state = this.#left === 0 ? "trailer" : "data";
      }
    }
    return { out, done: false };
  }
}

const CRLF = Buffer.from("\r\n");
const LAST = Buffer.from("0\r\n\r\n");
