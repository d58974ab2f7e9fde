// Live log streaming over Server-Sent Events: tails the (redacted) log file by polling its size,
// sends each new complete line as rendered HTML, and ends once the job has finished and every byte
// was sent. A reconnecting browser resumes from Last-Event-ID ("line:byte").
import type { FastifyReply, FastifyRequest } from "fastify";
import { lineTimes } from "../../store/log-times.js";
import { setSecurityHeaders } from "./headers.js";
import { lineHtml } from "./lines.js";
import { fileSize, readRange, splitLines } from "./log-reader.js";

/** The most one event carries, so a job that prints fast cannot build one huge message. */
const MAX_BATCH = 256 * 1024;
const HEARTBEAT_MS = 15_000;

export interface StreamSource {
  file: string;
  /** Whether the job has reached a final state (asked on each poll). */
  finished(): Promise<boolean>;
  pollMs: number;
  from: { line: number; byte: number };
}

export function parseResume(
  req: FastifyRequest<{ Querystring: { line?: string; byte?: string } }>,
): { line: number; byte: number } {
  const last = req.headers["last-event-id"];
  const [l, b] = typeof last === "string" ? last.split(":") : [req.query.line, req.query.byte];
  const line = Number(l);
  const byte = Number(b);
  return {
    line: Number.isSafeInteger(line) && line > 0 ? line : 1,
    byte: Number.isSafeInteger(byte) && byte >= 0 ? byte : 0,
  };
}

export function streamLog(req: FastifyRequest, reply: FastifyReply, src: StreamSource): void {
  setSecurityHeaders(reply);
  const headers = {
    ...(reply.getHeaders() as Record<string, string>),
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-store",
    connection: "keep-alive",
    "x-accel-buffering": "no",
  };
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, headers);
  res.write("retry: 1000\n\n");
  let { line, byte } = src.from;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let lastWrite = Date.now();
  const close = () => {
    if (closed) return;
    closed = true;
    if (timer) clearTimeout(timer);
    res.end();
  };
  req.raw.on("close", close);

  const tick = async () => {
    if (closed) return;
    try {
      // Read the state before the size: output written before the job ended is then seen.
      const done = await src.finished();
      const size = await fileSize(src.file);
      if (byte > size) byte = size; // the file was replaced: never read past its end
      while (byte < size && !closed) {
        const buf = await readRange(src.file, byte, Math.min(size, byte + MAX_BATCH));
        const atEnd = byte + buf.length >= size;
        const { lines, consumed } = splitLines(buf, line, done && atEnd);
        if (lines.length === 0) {
          if (buf.length < MAX_BATCH) break; // a partial line: wait for its newline
          // A line longer than a batch: send its start, skip the rest.
          const cut = splitLines(buf, line, true).lines;
          byte += buf.length;
          const nl = await findNextLine(src.file, byte, size);
          if (nl === -1) {
            byte -= buf.length; // wait for the newline
            break;
          }
          byte = nl;
          line++;
          await send(cut.map((l) => ({ ...l, cut: true })));
          continue;
        }
        byte += consumed;
        line += lines.length;
        await send(lines);
      }
      if (done && byte >= size) {
        res.write(`event: end\ndata: {}\n\n`);
        close();
        return;
      }
      if (Date.now() - lastWrite > HEARTBEAT_MS) {
        res.write(": keep-alive\n\n");
        lastWrite = Date.now();
      }
    } catch {
      res.write(`event: error\ndata: {"error":"the log could not be read"}\n\n`);
      close();
      return;
    }
    timer = setTimeout(tick, src.pollMs);
  };

  async function send(lines: { n: number; text: string; cut?: boolean }[]) {
    const times = lines.length
      ? await lineTimes(src.file, lines[0]!.n, lines[lines.length - 1]!.n)
      : new Map<number, number>();
    if (closed) return;
    const data = JSON.stringify(lines.map((l) => ({ n: l.n, html: lineHtml(l, times.get(l.n)) })));
    res.write(`id: ${line}:${byte}\nevent: lines\ndata: ${data}\n\n`);
    lastWrite = Date.now();
  }

  void tick();
}

async function findNextLine(file: string, from: number, size: number): Promise<number> {
  let pos = from;
  while (pos < size) {
    const buf = await readRange(file, pos, Math.min(size, pos + MAX_BATCH));
    const i = buf.indexOf(10);
    if (i !== -1) return pos + i + 1;
    pos += buf.length;
    if (buf.length === 0) break;
  }
  return -1;
}
