// Large downloads leave the proxy for the job's splice relay once decided: every byte still
// arrives in order, both ways, and is counted; the job's end ends them; without a working relay
// the proxy relays them itself. Loopback only.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import { EgressSession } from "../../src/egress/session.js";
import { SpliceRelay } from "../../src/egress/splice-relay.js";
import { egressPython } from "../../src/executors/local/egress.js";

const python = egressPython(undefined);
const MIB = 1 << 20;

/** `n` bytes that differ from one MiB to the next, so a lost or repeated piece shows. */
function pattern(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i += 4) b.writeUInt32LE((i / 4) >>> 0, i);
  return b;
}
const BODY = pattern(8 * MIB);
const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const HEAD = `HTTP/1.1 200 OK\r\ncontent-length: ${BODY.length}\r\n\r\n`;

let web: net.Server;
let webPort = 0;
/** Resolves when the proxy ends its side of the web server's next connection. */
let webEnded: () => Promise<void>;
let raw: net.Server;
let rawPort = 0;
before(async () => {
  // A web server that answers any request with the pattern, then waits for the other end.
  const ends: (() => void)[] = [];
  webEnded = () => new Promise((r) => ends.push(r));
  web = net.createServer({ allowHalfOpen: true }, (s) => {
    let head = "";
    s.on("data", (c: Buffer) => {
      head += c.toString("latin1");
      if (!head.includes("\r\n\r\n") || s.writableEnded) return;
      s.write(HEAD);
      s.end(BODY);
    });
    s.once("end", () => {
      ends.shift()?.();
      s.destroy();
    });
  });
  await new Promise<void>((r) => web.listen(0, "127.0.0.2", r));
  webPort = (web.address() as net.AddressInfo).port;
  // A tunnel's far end: sends half the pattern, takes the job's upload to its end, then sends
  // the rest and says how many bytes it got.
  raw = net.createServer((s) => {
    let got = 0;
    s.write(BODY.subarray(0, BODY.length / 2));
    s.on("data", (c: Buffer) => {
      got += c.length;
    });
    s.on("end", () => {
      s.write(BODY.subarray(BODY.length / 2));
      s.end(`|${got}`);
    });
  });
  await new Promise<void>((r) => raw.listen(0, "127.0.0.2", r));
  rawPort = (raw.address() as net.AddressInfo).port;
});
after(() => {
  web.close();
  raw.close();
});

async function start(relay: SpliceRelay | undefined) {
  const session = new EgressSession({
    spec: { allow: [`a.test:${webPort}`, `a.test:${rawPort}`], audit: false },
    hosts: { "a.test": ["127.0.0.2"] },
    forbidden: [],
    ...(relay ? { relay } : {}),
  });
  const tcp = net.createServer();
  await new Promise<void>((r) => tcp.listen(0, "127.0.0.1", r));
  session.serveProxy(tcp);
  return { session, port: (tcp.address() as net.AddressInfo).port };
}

/** Sends `text`, then `upload` (ending the job's side), and reads everything until the close. */
function exchange(port: number, text: string, upload?: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, "127.0.0.1");
    const got: Buffer[] = [];
    s.on("data", (c: Buffer) => got.push(c));
    s.on("close", () => resolve(Buffer.concat(got)));
    s.on("error", reject);
    if (upload) {
      s.write(text);
      // The tunnel's answer first, then the upload.
      s.once("data", () => s.end(upload));
    } else s.end(text);
  });
}

const relayOf = (afterBytes: number) =>
  new SpliceRelay({ pythonPath: python ?? "/usr/bin/python3", afterBytes });

describe("the splice relay", () => {
  it("takes a plain HTTP download past its threshold: the body arrives whole and is counted", async () => {
    const relay = relayOf(MIB);
    const r = await start(relay);
    const ended = webEnded();
    const out = await exchange(
      r.port,
      `GET http://a.test:${webPort}/big HTTP/1.1\r\nHost: a.test:${webPort}\r\n\r\n`,
    );
    const end = out.indexOf("\r\n\r\n") + 4;
    assert.match(out.subarray(0, end).toString(), /^HTTP\/1\.1 200 OK\r\n/);
    assert.equal(out.length - end, BODY.length);
    assert.equal(sha(out.subarray(end)), sha(BODY));
    assert.equal(relay.moved, 1, "the download moved to the relay");
    // The destination's connection ends with the download, not with the job.
    await ended;
    const [e] = (await r.session.close()).entries;
    // What the server sent, each byte counted once.
    assert.equal(e!.bytesIn, HEAD.length + BODY.length);
  });

  it("relays a tunnel both ways, half-closed, counting each way exactly", async () => {
    const relay = relayOf(0);
    const r = await start(relay);
    const upload = pattern(3 * MIB);
    const out = await exchange(
      r.port,
      `CONNECT a.test:${rawPort} HTTP/1.1\r\nHost: a.test:${rawPort}\r\n\r\n`,
      upload,
    );
    const end = out.indexOf("\r\n\r\n") + 4;
    assert.match(out.subarray(0, end).toString(), /^HTTP\/1\.1 200 /);
    const tail = `|${upload.length}`;
    assert.equal(out.subarray(out.length - tail.length).toString(), tail);
    assert.equal(sha(out.subarray(end, out.length - tail.length)), sha(BODY));
    assert.equal(relay.moved, 1);
    const [e] = (await r.session.close()).entries;
    assert.equal(e!.bytesOut, upload.length);
    assert.equal(e!.bytesIn, BODY.length + tail.length);
  });

  it("ends a moved download with the job, its bytes so far counted", async () => {
    const relay = relayOf(0);
    const r = await start(relay);
    const s = net.connect(r.port, "127.0.0.1");
    s.write(`GET http://a.test:${webPort}/big HTTP/1.1\r\nHost: a.test:${webPort}\r\n\r\n`);
    // The job reads a little and then nothing: the download stalls in the relay.
    const first = await new Promise<Buffer>((res) => s.once("data", res));
    s.pause();
    assert.ok(first.length > 0);
    while (relay.moved === 0) await new Promise((res) => setImmediate(res));
    const closed = new Promise((res) => s.once("close", res));
    s.on("error", () => {});
    const [e] = (await r.session.close()).entries;
    s.resume();
    await closed;
    assert.ok(e!.bytesIn > 0 && e!.bytesIn <= BODY.length + 300, `${e!.bytesIn}`);
  });

  it("leaves downloads to the proxy when the relay cannot start", async () => {
    const relay = new SpliceRelay({ pythonPath: "/nonexistent/python3", afterBytes: 0 });
    const r = await start(relay);
    const out = await exchange(
      r.port,
      `GET http://a.test:${webPort}/big HTTP/1.1\r\nHost: a.test:${webPort}\r\n\r\n`,
    );
    const end = out.indexOf("\r\n\r\n") + 4;
    assert.equal(sha(out.subarray(end)), sha(BODY));
    assert.equal(relay.moved, 0);
    assert.equal(relay.usable, false);
    await r.session.close();
  });
});
