// Reading the server name from a real ClientHello (Node's TLS client writes it to a loopback socket).
import assert from "node:assert/strict";
import net from "node:net";
import { describe, it } from "node:test";
import tls from "node:tls";
import { readClientHello } from "../../src/egress/tls-sni.js";

/** The first bytes a TLS client sends when asking for `servername`. */
async function clientHello(servername?: string): Promise<Buffer> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const got = new Promise<Buffer>((resolve) => {
    server.once("connection", (s) => {
      let buf = Buffer.alloc(0);
      s.on("data", (c: Buffer) => {
        buf = Buffer.concat([buf, c]);
        if (buf.length >= 5 && buf.length >= 5 + buf.readUInt16BE(3)) {
          resolve(buf);
          s.destroy();
        }
      });
    });
  });
  const port = (server.address() as net.AddressInfo).port;
  const c = tls.connect({ host: "127.0.0.1", port, ...(servername ? { servername } : {}) });
  c.on("error", () => {});
  const hello = await got;
  c.destroy();
  server.close();
  return hello;
}

describe("TLS server names", () => {
  it("reads the name a client asks for, once the whole first record is there", async () => {
    const hello = await clientHello("api.example.test");
    assert.deepEqual(readClientHello(hello), { kind: "sni", name: "api.example.test" });
    for (const cut of [0, 1, 4, 5, 40, hello.length - 1]) {
      assert.deepEqual(readClientHello(hello.subarray(0, cut)), { kind: "partial" }, `at ${cut}`);
    }
  });

  it("has nothing to check when there is no name or no TLS", async () => {
    // Node sends no SNI for an IP address.
    assert.deepEqual(readClientHello(await clientHello()), { kind: "none" });
    assert.deepEqual(readClientHello(Buffer.from("GET / HTTP/1.1\r\n")), { kind: "none" });
    assert.deepEqual(readClientHello(Buffer.from("SSH-2.0-OpenSSH\r\n")), { kind: "none" });
  });

  it("never reads past what it was given, whatever the lengths claim", async () => {
    const hello = await clientHello("x.test");
    for (let i = 5; i < Math.min(hello.length, 200); i++) {
      const broken = Buffer.from(hello);
      broken[i] = 0xff;
      const r = readClientHello(broken);
      assert.ok(["sni", "none", "partial"].includes(r.kind));
    }
  });
});
