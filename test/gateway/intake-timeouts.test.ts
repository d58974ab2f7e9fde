// A client that stalls cannot hold a connection: the server answers 408 and closes it when the
// headers or the body stop arriving, and closes a kept-alive connection left idle. Each test waits
// for the server to close the socket (an event), never for an amount of time; the timeouts are
// set short here only so that the event comes soon.
import assert from "node:assert/strict";
import net from "node:net";
import { after, before, test } from "node:test";
import { PATIENCE_MS } from "../support/patience.js";
import { deliver, example, type TestGateway, testGateway } from "./helpers.js";

let gw: TestGateway;
before(async () => {
  gw = await testGateway({ timeouts: { headersMs: 300, requestMs: 600, idleMs: 300 } });
});
after(() => gw.stop());

/** Opens a raw connection, writes `text`, and resolves with what came back once the server closed it. */
function untilClosed(text: string): Promise<string> {
  const { port } = new URL(gw.url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), "127.0.0.1", () => socket.write(text));
    let reply = "";
    const guard = setTimeout(() => {
      socket.destroy();
      reject(new Error("the server kept the stalled connection open"));
    }, PATIENCE_MS);
    socket.on("data", (d) => {
      reply += d.toString("latin1");
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      clearTimeout(guard);
      resolve(reply);
    });
  });
}

const HEAD = [
  "POST /webhooks/github HTTP/1.1",
  "Host: 127.0.0.1",
  "Content-Type: application/json",
  "X-GitHub-Event: pull_request",
  "X-GitHub-Delivery: stalled-1",
  "X-Hub-Signature-256: sha256=00",
];

test("a client that stalls mid-body is answered 408 and cut off; others are served meanwhile", async () => {
  const stalled = untilClosed(`${HEAD.join("\r\n")}\r\nContent-Length: 5000\r\n\r\n{"action":`);
  // While it stalls, a real delivery goes through.
  const ok = await deliver(gw.url, { event: "pull_request", payload: example("pull_request") });
  assert.equal(ok.status, 202);
  const reply = await stalled;
  assert.match(reply, /^HTTP\/1\.1 408 /);
  assert.equal(await gw.events.get("stalled-1"), undefined, "nothing of it was stored");
});

test("a client that stalls in its headers is answered 408 and cut off", async () => {
  const reply = await untilClosed(`${HEAD.slice(0, 3).join("\r\n")}\r\n`);
  assert.match(reply, /^HTTP\/1\.1 408 /);
});

test("an idle kept-alive connection is closed after its response", async () => {
  const reply = await untilClosed(
    "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n",
  );
  assert.match(reply, /^HTTP\/1\.1 200 /);
  assert.match(reply, /keep-alive/i, "the connection was kept alive, then closed as idle");
});
