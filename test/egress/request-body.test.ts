// Where a plain HTTP request's body ends, whatever pieces it arrives in.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseHead } from "../../src/egress/http-head.js";
import { type RequestBody, requestBody } from "../../src/egress/request-body.js";

function body(headers: string): RequestBody | string {
  return requestBody(parseHead(`POST http://a.test/ HTTP/1.1\r\n${headers}\r\n`)!);
}

/** Feeds `bytes` in pieces of `step`; what was sent on, and where it ended (or the error). */
function feed(b: RequestBody, bytes: string, step: number): { sent: string; end: number } | string {
  let sent = "";
  for (let p = 0; p < bytes.length; p += step) {
    const r = b.push(Buffer.from(bytes.slice(p, p + step), "latin1"));
    if ("error" in r) return r.error;
    sent += Buffer.concat(r.out).toString("latin1");
    if (r.done) return { sent, end: p + step };
  }
  return { sent, end: -1 };
}

/** Decodes a chunked body as a destination would. */
function unchunk(s: string): string {
  let out = "";
  let p = 0;
  for (;;) {
    const nl = s.indexOf("\r\n", p);
    const n = Number.parseInt(s.slice(p, nl), 16);
    if (n === 0) return s.slice(nl) === "\r\n\r\n" ? out : "BAD END";
    out += s.slice(nl + 2, nl + 2 + n);
    assert.equal(s.slice(nl + 2 + n, nl + 4 + n), "\r\n");
    p = nl + 4 + n;
  }
}

describe("a plain request's body", () => {
  it("ends after Content-Length bytes, and at once without a length", () => {
    const b = body("Content-Length: 5\r\n") as RequestBody;
    assert.deepEqual(b.headers, [["content-length", "5"]]);
    assert.deepEqual(feed(b, "helloGET http://b.test/", 1), { sent: "hello", end: 5 });
    const none = body("") as RequestBody;
    assert.deepEqual(none.headers, []);
    const r = none.push(Buffer.from("GET http://b.test/ HTTP/1.1\r\n\r\n"));
    assert.deepEqual(r, { out: [], done: true });
  });

  it("decodes a chunked body in any pieces, frames it anew and stops at its end", () => {
    const wire =
      "5;ext=1\r\nhello\r\n1a\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nTrailer: x\r\n\r\nGET http://b.test/ HTTP/1.1\r\n\r\n";
    const end = wire.indexOf("GET");
    for (const step of [1, 2, 3, 7, 1000]) {
      const b = body("Transfer-Encoding: chunked\r\n") as RequestBody;
      const r = feed(b, wire, step);
      assert.ok(typeof r !== "string", r as string);
      assert.equal(unchunk(r.sent), "helloabcdefghijklmnopqrstuvwxyz");
      assert.ok(r.end >= end && r.end < end + step, `step ${step}: ended at ${r.end}`);
      assert.ok(!r.sent.includes("Trailer") && !r.sent.includes("GET"));
    }
  });

  it("refuses framing a destination could read otherwise", () => {
    assert.match(String(body("Transfer-Encoding: chunked\r\nContent-Length: 3\r\n")), /both/);
    assert.match(String(body("Transfer-Encoding: gzip, chunked\r\n")), /only chunked/);
    assert.match(String(body("Content-Length: 3\r\nContent-Length: 4\r\n")), /Content-Length/);
    assert.match(String(body("Content-Length: -1\r\n")), /Content-Length/);
    assert.equal((body("Content-Length: 3, 3\r\n") as RequestBody).headers[0]![1], "3");
    const chunked = () => body("Transfer-Encoding: chunked\r\n") as RequestBody;
    assert.match(String(feed(chunked(), "zz\r\n", 1)), /chunk size/);
    assert.match(String(feed(chunked(), "2\r\nabc\r\n", 1)), /longer than its size/);
    assert.match(String(feed(chunked(), "2\nab", 1)), /without CR/);
    assert.match(String(feed(chunked(), "1".repeat(5000), 100)), /too long/);
  });
});

describe("a request head", () => {
  it("is refused with a line end or NUL another parser could read differently", () => {
    const head = (h: string) => parseHead(`GET http://a.test/ HTTP/1.1\r\n${h}\r\n\r\n`);
    assert.ok(head("X: 1"));
    assert.equal(head("X: 1\nTransfer-Encoding: chunked"), null);
    assert.equal(head("X: 1\rTransfer-Encoding: chunked"), null);
    assert.equal(head("X: \0"), null);
    assert.equal(head(" folded: line"), null);
  });
});
