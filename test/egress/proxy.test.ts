// The egress proxy and DNS server on loopback, without a sandbox: Node's own clients speak to
// them as a job's tools would. Every destination is a 127.0.0.x server of the test. Downloads
// move to the splice relay from their first byte after the decision, so every test here covers
// it too (splice-relay.test.ts has the proxy relaying alone).
import assert from "node:assert/strict";
import dgram from "node:dgram";
import { Resolver } from "node:dns/promises";
import http from "node:http";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import { redactRecord, suggestAllowlist } from "../../src/egress/record.js";
import { parseAddress } from "../../src/egress/rules.js";
import { EgressSession, type EgressSessionOptions } from "../../src/egress/session.js";
import { SpliceRelay } from "../../src/egress/splice-relay.js";
import { egressPython } from "../../src/executors/local/egress.js";

const python = egressPython(undefined);

interface Server {
  port: number;
  connections: number;
  bodies: Buffer[];
  close(): void;
}

async function server(address: string): Promise<Server> {
  const s: Server = { port: 0, connections: 0, bodies: [], close: () => {} };
  const srv = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      s.bodies.push(Buffer.concat(chunks));
      res.end(`ok ${req.method} ${req.headers.host} ${req.url} ${Buffer.concat(chunks).length}\n`);
    });
  });
  srv.on("connection", () => s.connections++);
  await new Promise<void>((r) => srv.listen(0, address, r));
  s.port = (srv.address() as net.AddressInfo).port;
  s.close = () => srv.close();
  return s;
}

interface Running {
  session: EgressSession;
  proxyPort: number;
  dnsPort: number;
  notes: string[];
}

async function start(
  o: Partial<EgressSessionOptions> & Pick<EgressSessionOptions, "spec">,
): Promise<Running> {
  const notes: string[] = [];
  const session = new EgressSession({
    hosts: { "a.test": ["127.0.0.2"], "meta.test": ["127.0.0.66"] },
    forbidden: ["127.0.0.64/26"],
    note: (l) => notes.push(l),
    ...(python ? { relay: new SpliceRelay({ pythonPath: python, afterBytes: 0 }) } : {}),
    ...o,
  });
  const tcp = net.createServer();
  await new Promise<void>((r) => tcp.listen(0, "127.0.0.1", r));
  const udp = dgram.createSocket("udp4");
  await new Promise<void>((r) => udp.bind(0, "127.0.0.1", r));
  session.serveProxy(tcp);
  session.serveDns(udp);
  return {
    session,
    proxyPort: (tcp.address() as net.AddressInfo).port,
    dnsPort: udp.address().port,
    notes,
  };
}

/** A plain HTTP request through the proxy. */
function viaProxy(
  proxyPort: number,
  url: string,
  o: { method?: string; body?: Buffer; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: "127.0.0.1",
      port: proxyPort,
      method: o.method ?? "GET",
      path: url,
      headers: { host: new URL(url).host, ...o.headers },
      agent: false,
    });
    req.on("response", (res) => {
      let body = "";
      res.on("data", (c: Buffer) => {
        body += c.toString();
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end(o.body);
  });
}

/** Opens a CONNECT tunnel; the status, and the socket when it is open. */
function tunnel(
  proxyPort: number,
  authority: string,
): Promise<{ status: number; socket: net.Socket }> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: "127.0.0.1",
      port: proxyPort,
      method: "CONNECT",
      path: authority,
      agent: false,
    });
    req.on("connect", (res, socket) => resolve({ status: res.statusCode ?? 0, socket }));
    req.on("response", (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, socket: res.socket });
    });
    req.on("error", reject);
    req.end();
  });
}

/** Bytes sent as they are; everything the proxy answers, until it closes the connection. */
function rawRequest(proxyPort: number, text: string, endFirst = true): Promise<string> {
  return new Promise<string>((resolve) => {
    const s = net.connect(proxyPort, "127.0.0.1", () => (endFirst ? s.end(text) : s.write(text)));
    let out = "";
    s.on("data", (c: Buffer) => {
      out += c.toString();
    });
    s.on("close", () => resolve(out));
    s.on("error", () => resolve(out));
  });
}

let a: Server;
let meta: Server;
before(async () => {
  a = await server("127.0.0.2");
  meta = await server("127.0.0.66");
});
after(() => {
  a.close();
  meta.close();
});

describe("the egress proxy", () => {
  it("forwards plain HTTP with its body, counting bytes each way", async () => {
    const r = await start({ spec: { allow: [`a.test:${a.port}`], audit: false } });
    const body = Buffer.alloc(100_000, 7);
    const res = await viaProxy(r.proxyPort, `http://a.test:${a.port}/up?x=1`, {
      method: "POST",
      body,
    });
    assert.equal(res.status, 200);
    assert.equal(res.body, `ok POST a.test:${a.port} /up?x=1 100000\n`);
    assert.ok(a.bodies.at(-1)?.equals(body));
    const rec = await r.session.close();
    const e = rec.entries[0]!;
    assert.equal(e.via, "http");
    assert.equal(e.verdict, "allowed");
    assert.ok(e.bytesOut > 100_000 && e.bytesOut < 101_000, `${e.bytesOut}`);
    assert.ok(e.bytesIn > res.body.length, `${e.bytesIn}`);
    assert.deepEqual(suggestAllowlist(rec), [`a.test:${a.port}`]);
  });

  it("forbids loopback by default, even for a listed name, unless an address rule opens it", async () => {
    const spec = { allow: [`a.test:${a.port}`], audit: false };
    const closed = await start({ spec, forbidden: undefined }); // the default ranges
    const before = a.connections;
    const res = await viaProxy(closed.proxyPort, `http://a.test:${a.port}/`);
    assert.equal(res.status, 403);
    assert.match(res.body, /a\.test resolves to 127\.0\.0\.2 \(loopback\)/);
    assert.equal(a.connections, before);
    await closed.session.close();

    const opened = await start({
      spec: { allow: [...spec.allow, `127.0.0.2:${a.port}`], audit: false },
      forbidden: undefined,
    });
    const ok = await viaProxy(opened.proxyPort, `http://a.test:${a.port}/`);
    assert.equal(ok.status, 200);
    await opened.session.close();
  });

  it("connects to the address it checked: a name re-pointed at a forbidden address is refused", async () => {
    // The first lookup (the job's own DNS query) says 127.0.0.2; the proxy's says 127.0.0.66.
    let calls = 0;
    const r = await start({
      spec: { allow: ["rebind.test"], audit: false },
      resolve: async () => [parseAddress(calls++ === 0 ? "127.0.0.2" : "127.0.0.66")!],
    });
    const resolver = new Resolver();
    resolver.setServers([`127.0.0.1:${r.dnsPort}`]);
    assert.deepEqual(await resolver.resolve4("rebind.test"), ["127.0.0.2"]);
    const before = meta.connections;
    const res = await viaProxy(r.proxyPort, `http://rebind.test:${meta.port}/`);
    assert.equal(res.status, 403);
    assert.equal(meta.connections, before, "the forbidden address was never connected to");
    const e = (await r.session.close()).entries.find((x) => x.via === "http")!;
    assert.equal(e.verdict, "refused");
    assert.equal(e.address, "127.0.0.66");
  });

  it("checks a tunnel's TLS server name against the list", async () => {
    const tls = await import("node:tls");
    const r = await start({
      spec: { allow: [`a.test:${a.port}`, `ok.test:${a.port}`], audit: false },
    });
    const hello = (servername: string) =>
      new Promise<{ status: number; closedWithoutData: boolean }>((resolve) => {
        void tunnel(r.proxyPort, `a.test:${a.port}`).then(({ status, socket }) => {
          let got = false;
          socket.on("data", () => {
            got = true;
          });
          socket.on("close", () => resolve({ status, closedWithoutData: !got }));
          socket.on("error", () => {});
          // The TLS handshake fails (the server speaks plain HTTP); only its first record matters.
          const t = tls.connect({ socket, servername, rejectUnauthorized: false });
          t.on("error", () => socket.destroy());
        });
      });
    const bad = await hello("evil.test");
    assert.equal(bad.status, 200);
    assert.equal(bad.closedWithoutData, true);
    await hello("ok.test");
    const rec = await r.session.close();
    const refused = rec.entries.find((e) => e.verdict === "refused");
    assert.match(refused?.reason ?? "", /evil\.test/);
    assert.equal(refused?.bytesOut, 0);
    const allowed = rec.entries.find((e) => e.verdict === "allowed");
    assert.ok((allowed?.bytesOut ?? 0) > 0, "the allowed ClientHello went through");
  });

  it("answers malformed requests with 400 and stays up", async () => {
    const r = await start({ spec: { allow: [`a.test:${a.port}`], audit: false } });
    const raw = (text: string) => rawRequest(r.proxyPort, text);
    assert.match(await raw("CONNECT a.test HTTP/1.1\r\n\r\n"), /^HTTP\/1\.1 400/);
    assert.match(await raw("GET /local HTTP/1.1\r\nHost: x\r\n\r\n"), /^HTTP\/1\.1 400/);
    assert.match(
      await raw("GET https://a.test/ HTTP/1.1\r\nHost: a.test\r\n\r\n"),
      /CONNECT tunnel/,
    );
    assert.match(await raw("\x00\x01garbage\r\n\r\n"), /^HTTP\/1\.1 400/);
    assert.match(await raw("CONNECT [::1 HTTP/1.1\r\n\r\n"), /^HTTP\/1\.1 400/);
    const ok = await viaProxy(r.proxyPort, `http://a.test:${a.port}/still`);
    assert.equal(ok.status, 200);
    await r.session.close();
  });

  it("lets everything through under audit, with the verdict the list would give", async () => {
    const r = await start({ spec: { allow: ["a.test:1"], audit: true } });
    const res = await viaProxy(r.proxyPort, `http://a.test:${a.port}/`);
    assert.equal(res.status, 200);
    const m = await viaProxy(r.proxyPort, `http://meta.test:${meta.port}/`);
    assert.equal(m.status, 200, "audit lets even a forbidden address through");
    const rec = await r.session.close();
    assert.equal(rec.mode, "audit");
    assert.deepEqual(
      rec.entries.map((e) => [e.host, e.verdict]),
      [
        ["a.test", "audit"],
        ["meta.test", "audit"],
      ],
    );
    assert.deepEqual(suggestAllowlist(rec), [`a.test:${a.port}`, `meta.test:${meta.port}`]);
    assert.match(r.notes.join("\n"), /would be refused: a\.test:\d+ is not in network\.allow/);
  });

  it("ends open tunnels and refuses new ones once closed", async () => {
    const r = await start({ spec: { allow: [`a.test:${a.port}`], audit: false } });
    const { status, socket } = await tunnel(r.proxyPort, `a.test:${a.port}`);
    assert.equal(status, 200);
    const closed = new Promise((res) => socket.once("close", res));
    const rec = await r.session.close();
    await closed;
    assert.equal(socket.destroyed, true);
    // A tunnel still open when the job ends is in the record all the same.
    assert.deepEqual(
      rec.entries.map((e) => [e.via, e.verdict]),
      [["connect", "allowed"]],
    );
  });

  it("closes a tunnel the job ends before its first bytes are decided, sending none", async () => {
    const r = await start({ spec: { allow: [`a.test:${a.port}`], audit: false } });
    const { status, socket } = await tunnel(r.proxyPort, `a.test:${a.port}`);
    assert.equal(status, 200);
    const closed = new Promise((res) => socket.once("close", res));
    socket.end(Buffer.from([0x16, 0x03, 0x01])); // the start of a TLS record, never finished
    await closed;
    const [e] = (await r.session.close()).entries;
    assert.equal(e?.bytesOut, 0);
  });

  it("keeps the job's log to one line per refusal, and at most twenty", async () => {
    const r = await start({ spec: { allow: ["a.test:1"], audit: false } });
    for (let i = 0; i < 3; i++) await viaProxy(r.proxyPort, "http://b.test:81/");
    for (let i = 0; i < 30; i++) await viaProxy(r.proxyPort, `http://n${i}.test:80/`);
    assert.equal(r.notes.filter((n) => n.includes("b.test")).length, 1);
    assert.equal(r.notes.length, 21);
    assert.match(r.notes.at(-1)!, /more egress refusals/);
    const rec = await r.session.close();
    assert.equal(rec.entries.find((e) => e.host === "b.test")?.count, 3);
    assert.equal(rec.entries.length, 31);
  });

  it("passes every job-chosen text of the record through the redactor", () => {
    const rec = redactRecord(
      {
        mode: "enforce",
        dropped: 0,
        entries: [
          {
            via: "connect",
            host: "s3cr3t.evil.test",
            port: 443,
            address: null,
            verdict: "refused",
            reason: "s3cr3t.evil.test:443 is not in network.allow",
            count: 1,
            bytesOut: 0,
            bytesIn: 0,
            firstAt: 0,
          },
        ],
      },
      (s) => s.replaceAll("s3cr3t", "[masked]"),
    );
    assert.ok(!JSON.stringify(rec).includes("s3cr3t"));
  });
});

describe("plain HTTP through the proxy", () => {
  it("decides every request: one sent after another on the same connection never goes on", async () => {
    const r = await start({ spec: { allow: [`a.test:${a.port}`], audit: false } });
    const before = a.bodies.length;
    // The second asks the allowed server for another site: it must not reach it undecided.
    const out = await rawRequest(
      r.proxyPort,
      `GET http://a.test:${a.port}/one HTTP/1.1\r\nHost: a.test:${a.port}\r\n\r\n` +
        `GET http://a.test:${a.port}/two HTTP/1.1\r\nHost: b.test\r\n\r\n`,
      false,
    );
    assert.match(out, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(out, /\r\nconnection: close\r\n/i);
    assert.match(out, new RegExp(`ok GET a.test:${a.port} /one 0\n$`));
    assert.equal(a.bodies.length, before + 1, "only the first request reached the server");
    // A job that ends its side after its request still gets the answer.
    const halfClosed = await rawRequest(
      r.proxyPort,
      `GET http://a.test:${a.port}/three HTTP/1.1\r\nHost: a.test:${a.port}\r\n\r\n`,
    );
    assert.match(halfClosed, new RegExp(`ok GET a.test:${a.port} /three 0\n$`));
    const rec = await r.session.close();
    assert.deepEqual(
      rec.entries.map((e) => [e.host, e.verdict, e.count]),
      [["a.test", "allowed", 2]],
    );
  });

  it("passes a chunked upload whole, and refuses framing a server could read otherwise", async () => {
    const r = await start({ spec: { allow: [`a.test:${a.port}`], audit: false } });
    const body = Buffer.alloc(300_000, 9);
    const res = await viaProxy(r.proxyPort, `http://a.test:${a.port}/chunked`, {
      method: "PUT",
      body,
      headers: { "transfer-encoding": "chunked" },
    });
    assert.equal(res.body, `ok PUT a.test:${a.port} /chunked 300000\n`);
    assert.ok(a.bodies.at(-1)?.equals(body));
    const before = a.bodies.length;
    const target = `http://a.test:${a.port}/`;
    const smuggle = await rawRequest(
      r.proxyPort,
      `POST ${target} HTTP/1.1\r\nHost: a.test\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
    );
    assert.match(smuggle, /^HTTP\/1\.1 400 [\s\S]*both Transfer-Encoding and Content-Length/);
    const twoHosts = await rawRequest(
      r.proxyPort,
      `GET ${target} HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n`,
    );
    assert.match(twoHosts, /^HTTP\/1\.1 400 [\s\S]*one valid Host header/);
    assert.equal(a.bodies.length, before, "neither reached the server");
    await r.session.close();
  });

  it("answers 502 when the destination closes without answering", async () => {
    const mute = net.createServer((s) => s.once("data", () => s.destroy()));
    await new Promise<void>((res) => mute.listen(0, "127.0.0.2", res));
    const port = (mute.address() as net.AddressInfo).port;
    const r = await start({ spec: { allow: [`a.test:${port}`], audit: false } });
    const res = await viaProxy(r.proxyPort, `http://a.test:${port}/`);
    assert.equal(res.status, 502);
    assert.match(res.body, /closed the connection/);
    await r.session.close();
    mute.close();
  });
});

describe("the job's DNS server", () => {
  it("answers listed names with addresses the job may reach, and nothing else", async () => {
    const r = await start({
      spec: { allow: ["a.test", "meta.test", "both.test"], audit: false },
      hosts: {
        "a.test": ["127.0.0.2"],
        "meta.test": ["127.0.0.66"],
        "both.test": ["127.0.0.66", "127.0.0.3", "::1"],
      },
    });
    const resolver = new Resolver({ timeout: 5000, tries: 1 });
    resolver.setServers([`127.0.0.1:${r.dnsPort}`]);
    assert.deepEqual(await resolver.resolve4("a.test"), ["127.0.0.2"]);
    assert.deepEqual(await resolver.resolve4("both.test"), ["127.0.0.3"]);
    assert.deepEqual(await resolver.resolve6("both.test"), ["::1"]);
    await assert.rejects(resolver.resolve6("a.test"), { code: "ENODATA" });
    await assert.rejects(resolver.resolve4("meta.test"), { code: "ENODATA" });
    await assert.rejects(resolver.resolve4("b.test"), { code: "ENOTFOUND" });
    await assert.rejects(resolver.resolveTxt("b.test"), { code: "ENOTFOUND" });
    const rec = await r.session.close();
    const refused = rec.entries.filter((e) => e.via === "dns");
    assert.deepEqual(
      refused.map((e) => [e.host, e.verdict, e.count]),
      [["b.test", "refused", 2]],
    );
  });

  it("ignores what is not a DNS query", async () => {
    const r = await start({ spec: { allow: ["a.test"], audit: false } });
    const s = dgram.createSocket("udp4");
    await new Promise<void>((res) =>
      s.send(Buffer.from("not dns"), r.dnsPort, "127.0.0.1", () => res()),
    );
    s.close();
    const resolver = new Resolver({ timeout: 5000, tries: 1 });
    resolver.setServers([`127.0.0.1:${r.dnsPort}`]);
    assert.deepEqual(await resolver.resolve4("a.test"), ["127.0.0.2"]);
    await r.session.close();
  });
});
