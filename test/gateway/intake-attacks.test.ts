// Attacks on intake through the real HTTP server: nothing unauthenticated is stored or processed,
// a replay is not processed twice, oversized and malformed bodies are refused.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { sign } from "@octokit/webhooks-methods";
import { signatureOf } from "../../src/gateway/intake.js";
import { deliver, example, SECRET, type TestGateway, testGateway } from "./helpers.js";

const opened = example("pull_request", "opened");

let gw: TestGateway;
before(async () => {
  gw = await testGateway({ secrets: [SECRET, "the previous secret"] });
});
after(() => gw.stop());

async function storedCount(): Promise<number> {
  return (await gw.events.list()).length;
}

test("a missing signature is refused with 401 and nothing is stored", async () => {
  const n = await storedCount();
  const res = await deliver(gw.url, { event: "pull_request", payload: opened, secret: null });
  assert.equal(res.status, 401);
  assert.equal(await storedCount(), n);
});

test("a signature made with another secret is refused", async () => {
  const res = await deliver(gw.url, { event: "pull_request", payload: opened, secret: "guess" });
  assert.equal(res.status, 401);
  assert.equal(await gw.events.get(res.id), undefined);
});

test("a valid signature over a different body is refused (tampered payload)", async () => {
  const good = JSON.stringify(opened);
  const tampered = good.replace('"opened"', '"reopened"');
  assert.notEqual(good, tampered);
  const res = await fetch(`${gw.url}/webhooks/github`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-github-event": "pull_request",
      "x-github-delivery": "tampered-1",
      "x-hub-signature-256": await sign(SECRET, good),
    },
    body: tampered,
  });
  assert.equal(res.status, 401);
  assert.equal(await gw.events.get("tampered-1"), undefined);
});

test("a malformed signature header (sha1 form, truncated) is refused", async () => {
  const body = JSON.stringify(opened);
  for (const sig of ["sha1=0000", "sha256=", (await sign(SECRET, body)).slice(0, 40), "garbage"]) {
    const res = await deliver(gw.url, {
      event: "pull_request",
      payload: opened,
      secret: null,
      headers: { "x-hub-signature-256": sig },
    });
    assert.equal(res.status, 401, sig);
  }
});

test("an unknown event needs a signature first, then answers 204 and is not stored", async () => {
  assert.equal(
    (await deliver(gw.url, { event: "star", payload: { action: "created" }, secret: null })).status,
    401,
  );
  const res = await deliver(gw.url, { event: "star", payload: { action: "created" } });
  assert.equal(res.status, 204);
  assert.equal(await gw.events.get(res.id), undefined);
});

test("either configured secret authenticates (rotation)", async () => {
  const a = await deliver(gw.url, { event: "pull_request", payload: opened });
  const b = await deliver(gw.url, {
    event: "pull_request",
    payload: opened,
    secret: "the previous secret",
  });
  assert.equal(a.status, 202);
  assert.equal(b.status, 202);
});

test("a replayed delivery is acknowledged as duplicate and processed once", async () => {
  let calls = 0;
  const id = "replay-0001";
  const first = await deliver(gw.url, { event: "pull_request", payload: opened, id });
  assert.equal(first.status, 202);
  for (let i = 0; i < 3; i++) {
    const again = await deliver(gw.url, { event: "pull_request", payload: opened, id });
    assert.equal(again.status, 200);
    assert.match(again.body, /duplicate/);
  }
  await gw.loop.idle();
  calls = gw.handled.filter((h) => h.deliveryId === id).length;
  assert.equal(calls, 1);
});

test("a replay with a different body under the same delivery id is not processed", async () => {
  const id = "replay-0002";
  assert.equal((await deliver(gw.url, { event: "pull_request", payload: opened, id })).status, 202);
  const other = { ...opened, action: "reopened" };
  assert.equal((await deliver(gw.url, { event: "pull_request", payload: other, id })).status, 200);
  await gw.loop.idle();
  const seen = gw.handled.filter((h) => h.deliveryId === id);
  assert.equal(seen.length, 1);
  assert.equal(seen[0]!.event.kind === "pull_request" && seen[0]!.event.action, "opened");
});

test("malformed JSON with a valid signature answers 400", async () => {
  const res = await deliver(gw.url, { event: "pull_request", payload: null, rawBody: '{"a":' });
  assert.equal(res.status, 400);
  assert.equal(await gw.events.get(res.id), undefined);
});

test("a valid signature over a body that is not UTF-8 answers 400 for the encoding, not 401", async () => {
  const body = Buffer.concat([
    Buffer.from('{"action":"opened","title":"'),
    Buffer.from([0xff, 0xfe, 0xc3]),
    Buffer.from('"}'),
  ]);
  const send = (id: string, secret: string) =>
    fetch(`${gw.url}/webhooks/github`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-github-event": "pull_request",
        "x-github-delivery": id,
        "x-hub-signature-256": signatureOf(secret, body),
      },
      body,
    });
  const res = await send("latin-1", SECRET);
  assert.equal(res.status, 400);
  assert.match(await res.text(), /not valid UTF-8/);
  assert.equal(await gw.events.get("latin-1"), undefined);
  // The signature is checked first, over the bytes: a forged one is still a 401.
  assert.equal((await send("latin-2", "guess")).status, 401);
});

test("missing X-GitHub-Event or X-GitHub-Delivery answers 400", async () => {
  const body = JSON.stringify(opened);
  const sig = await sign(SECRET, body);
  for (const drop of ["x-github-event", "x-github-delivery"]) {
    const headers: Record<string, string> = {
      "content-type": "application/json",
      "x-github-event": "pull_request",
      "x-github-delivery": "hdr-1",
      "x-hub-signature-256": sig,
    };
    delete headers[drop];
    const res = await fetch(`${gw.url}/webhooks/github`, { method: "POST", headers, body });
    assert.equal(res.status, 400, drop);
  }
  const bad = await deliver(gw.url, { event: "pull_request", payload: opened, id: "../../x y" });
  assert.equal(bad.status, 400);
});

test("the form-encoded payload GitHub can send is accepted and verified", async () => {
  const res = await deliver(gw.url, { event: "pull_request", payload: opened, form: true });
  assert.equal(res.status, 202);
  await gw.loop.idle();
  assert.ok(gw.handled.some((h) => h.deliveryId === res.id));
  const forged = await deliver(gw.url, {
    event: "pull_request",
    payload: opened,
    form: true,
    secret: "nope",
  });
  assert.equal(forged.status, 401);
});

test("a body over GitHub's 25 MB cap answers 413 and is not stored", async () => {
  const big = Buffer.alloc(25 * 1024 * 1024 + 10, 0x20);
  big.write('{"a":1}');
  const res = await fetch(`${gw.url}/webhooks/github`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-github-event": "pull_request",
      "x-github-delivery": "big-1",
      "x-hub-signature-256": "sha256=00",
    },
    body: big,
  });
  assert.equal(res.status, 413);
  assert.equal(await gw.events.get("big-1"), undefined);
});

test("a chunked body without Content-Length is cut off at the cap too", async () => {
  const chunk = new Uint8Array(1024 * 1024).fill(0x20);
  let sent = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(c) {
      if (sent++ >= 27) c.close();
      else c.enqueue(chunk);
    },
  });
  const res = await fetch(`${gw.url}/webhooks/github`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-github-event": "ping" },
    body: stream,
    duplex: "half",
  } as RequestInit);
  assert.equal(res.status, 413);
});

test("an unsupported content type answers 415", async () => {
  const res = await fetch(`${gw.url}/webhooks/github`, {
    method: "POST",
    headers: { "content-type": "text/plain", "x-github-event": "ping" },
    body: "hello",
  });
  assert.equal(res.status, 415);
});

test("healthz answers ok and metrics count deliveries by outcome", async () => {
  const h = await fetch(`${gw.url}/healthz`);
  assert.equal(h.status, 200);
  const m = await (await fetch(`${gw.url}/metrics`)).text();
  assert.match(m, /airlock_webhook_deliveries_received_total \d+/);
  assert.match(m, /airlock_webhook_deliveries_rejected_total\{reason="signature_invalid"\} [1-9]/);
  assert.match(m, /airlock_webhook_deliveries_rejected_total\{reason="too_large"\} 2/);
  assert.match(m, /airlock_webhook_deliveries_duplicate_total [1-9]/);
  assert.match(m, /airlock_events_queue_depth \d+/);
  assert.match(m, /airlock_event_processing_seconds_bucket/);
  assert.doesNotMatch(m, new RegExp(SECRET));
});

test("the webhook's raw-body parsers stay inside its route: other routes parse JSON", async () => {
  const { createServer } = await import("../../src/web/server.js");
  const { GatewayMetrics } = await import("../../src/web/metrics.js");
  const { Intake } = await import("../../src/gateway/intake.js");
  const app = await createServer({
    intake: new Intake({ secrets: [SECRET], store: gw.events }),
    metrics: new GatewayMetrics(),
    extraRoutes: (a) => {
      a.post("/api/echo", async (req) => ({ got: req.body }));
    },
  });
  try {
    const res = await app.inject({ method: "POST", url: "/api/echo", payload: { a: 1 } });
    assert.deepEqual(res.json(), { got: { a: 1 } });
  } finally {
    await app.close();
  }
});
