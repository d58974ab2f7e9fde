// The HTTP proxy a job's HTTP_PROXY/HTTPS_PROXY point at: CONNECT tunnels (HTTPS and anything
// else over TCP) and plain HTTP requests in absolute form. Each goes through the gate; a tunnel's
// TLS server name, and a plain request's Host header, must be allowed too, so a connection to an
// allowed front end cannot ask it for another site.
//
// The proxy reads a request's head itself and decides on it; after that, bytes pass without
// being parsed again (see relay.ts). A plain request gets a destination connection of its own and
// the job's connection ends with its response, so every request on it is decided.
import type net from "node:net";
import type { Duplex } from "node:stream";
import type { EgressGate, OnData } from "./gate.js";
import {
  forwardHead,
  type Head,
  headEnd,
  header,
  MAX_HEAD,
  parseHead,
  plainResponse,
  TOKEN,
  tokens,
} from "./http-head.js";
import { EgressPolicy } from "./policy.js";
import type { Tally } from "./record.js";
import { forward, type Handoff, tie, toJob } from "./relay.js";
import { requestBody } from "./request-body.js";
import { hostName } from "./rules.js";
import type { SpliceRelay } from "./splice-relay.js";
import { MAX_HELLO, readClientHello } from "./tls-sni.js";

/** How long a job may take to send a request's head. */
const HEAD_TIMEOUT_MS = 60_000;

export class EgressProxy {
  readonly #gate: EgressGate;
  readonly #relay: SpliceRelay | null;
  readonly #clients = new Set<Duplex>();
  /** Connections whose bytes are still to be counted. */
  readonly #uncounted = new Set<() => void>();

  /** `relay`: where large downloads go once decided (without it, the proxy relays them). */
  constructor(gate: EgressGate, relay?: SpliceRelay) {
    this.#gate = gate;
    this.#relay = relay ?? null;
  }

  /** What lets a decided connection's download move to the relay, when there is one. */
  #handoff(ready: () => boolean, tally: () => Tally | null): Handoff | undefined {
    if (!this.#relay) return undefined;
    return { relay: this.#relay, ready, counted: (bytes) => tally()?.add(0, bytes) };
  }

  /** Serves a connection from the job. */
  accept(socket: net.Socket): void {
    this.#clients.add(socket);
    socket.once("close", () => this.#clients.delete(socket));
    socket.on("error", () => {});
    socket.setNoDelay(true);
    // A job may end its side once it has sent its request: the answer still goes back.
    socket.allowHalfOpen = true;
    readHead(socket).then(
      (got) => {
        if (typeof got === "number") answer(socket, got, "Airlock egress: bad request");
        else void this.#serve(socket, got.head, got.rest);
      },
      () => socket.destroy(),
    );
  }

  /** Counts every open connection's bytes so far, then ends them all. */
  close(): void {
    for (const count of [...this.#uncounted]) count();
    this.#gate.close();
    for (const c of this.#clients) c.destroy();
  }

  async #serve(client: net.Socket, head: Head, rest: Buffer): Promise<void> {
    const [method, target, version] = head.start;
    if (!/^HTTP\/1\.[01]$/.test(version) || !TOKEN.test(method)) {
      answer(client, 400, "Airlock egress: bad request");
      return;
    }
    if (method === "CONNECT") return this.#connect(client, target, rest);
    if (tokens(header(head, "connection")).has("upgrade") && header(head, "upgrade")) {
      answer(
        client,
        501,
        "Airlock egress: upgrades need a CONNECT tunnel (use https:// or wss://)",
      );
      return;
    }
    return this.#request(client, head, rest);
  }

  async #connect(client: net.Socket, target: string, head: Buffer): Promise<void> {
    const authority = parseAuthority(target);
    if (!authority) {
      answer(client, 400, "Airlock egress: CONNECT needs host:port");
      return;
    }
    let tally: Tally | null = null;
    let decided = false;
    const download = toJob(
      client,
      this.#handoff(
        () => decided,
        () => tally,
      ),
    );
    const opened = await this.#gate.open("connect", authority.host, authority.port, download);
    if (!opened.ok) {
      answer(client, opened.status, opened.message);
      return;
    }
    const upstream = opened.socket;
    if (client.destroyed) {
      upstream.destroy();
      return;
    }
    const settle = (reason?: string) => {
      if (tally) return;
      const a = opened.attempt;
      const audit = this.#gate.policy.audit;
      tally = this.#gate.record(
        reason ? { ...a, verdict: audit ? "audit" : "refused", reason } : a,
      );
    };
    tie(client, upstream);
    this.#countOnce(upstream, () => {
      settle();
      return tally!;
    });
    client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
    // The first bytes from the job say whether it speaks TLS and to which server name.
    let first = head;
    // A job that ends its side before they are decided sends none of them.
    const undecided = () => {
      upstream.destroy();
      client.destroy();
    };
    const check = (): boolean => {
      const hello = readClientHello(first);
      if (hello.kind === "partial" && first.length < MAX_HELLO) return false;
      client.off("end", undecided);
      const refusal = hello.kind === "sni" ? this.#nameRefusal(hello.name, authority) : null;
      settle(refusal ?? undefined);
      if (refusal && !this.#gate.policy.audit) {
        upstream.destroy();
        client.destroy();
        return true;
      }
      upstream.write(first);
      client.pipe(upstream);
      decided = true;
      return true;
    };
    if (first.length > 0 && check()) return;
    const onData = (chunk: Buffer) => {
      first = Buffer.concat([first, chunk]);
      if (check()) client.off("data", onData);
    };
    client.on("data", onData);
    client.once("end", undecided);
    client.resume();
  }

  /** Adds a connection's bytes to its tally once: when it closes, or when the proxy does first. */
  #countOnce(upstream: net.Socket, tally: () => Tally): void {
    const count = () => {
      if (!this.#uncounted.delete(count)) return;
      tally().add(upstream.bytesWritten, upstream.bytesRead);
    };
    this.#uncounted.add(count);
    upstream.once("close", count);
  }

  /** Why a TLS server name or Host header other than the requested host is refused, or null. */
  #nameRefusal(raw: string, requested: { host: string; port: number }): string | null {
    const name = hostName(raw);
    if (name !== null && name === hostName(requested.host)) return null;
    const target = name ? EgressPolicy.target(name) : null;
    if (target && this.#gate.policy.checkTarget(target, requested.port) === null) return null;
    return `it asked ${requested.host} for ${JSON.stringify(raw)}, which network.allow does not list`;
  }

  async #request(client: net.Socket, head: Head, rest: Buffer): Promise<void> {
    const [method, target, version] = head.start;
    const refuse = (status: number, message: string) => answer(client, status, message, true);
    let url: URL;
    try {
      url = new URL(target);
    } catch {
      refuse(400, "This is Airlock's egress proxy: send requests for http:// URLs through it.");
      return;
    }
    if (url.protocol !== "http:") {
      refuse(400, `Airlock egress: ${url.protocol} URLs go through a CONNECT tunnel`);
      return;
    }
    const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
    const port = url.port ? Number(url.port) : 80;
    const hosts = head.headers.filter(([n]) => n === "host");
    const hostHeader = hosts.length === 1 ? parseAuthority(hosts[0]![1], port) : null;
    const body = requestBody(head);
    if (hosts.length > 1 || (hosts.length === 1 && !hostHeader) || typeof body === "string") {
      const what = typeof body === "string" ? body : "a request needs one valid Host header";
      refuse(400, `Airlock egress: bad request: ${what}`);
      return;
    }
    // The Host header names the site a shared server serves: it must be allowed too.
    const refusal =
      hostHeader && hostHeader.host !== host
        ? this.#nameRefusal(hostHeader.host, { host, port })
        : null;
    const audit = this.#gate.policy.audit;
    if (refusal && !audit) {
      this.#gate.record({
        via: "http",
        host,
        port,
        address: null,
        verdict: "refused",
        reason: refusal,
      });
      refuse(403, `Airlock egress: ${refusal}`);
      return;
    }
    let tally: Tally | null = null;
    // The body, to its end; whatever the job sends after it is not for this destination.
    let done = false;
    const response = responseToJob(
      client,
      toJob(
        client,
        this.#handoff(
          () => done,
          () => tally,
        ),
      ),
    );
    const opened = await this.#gate.open("http", host, port, response.onData);
    if (!opened.ok) {
      refuse(opened.status, opened.message);
      return;
    }
    const upstream = opened.socket;
    if (client.destroyed) {
      upstream.destroy();
      return;
    }
    const counted = this.#gate.record(
      refusal ? { ...opened.attempt, verdict: "audit", reason: refusal } : opened.attempt,
    );
    tally = counted;
    this.#countOnce(upstream, () => counted);
    upstream.once("end", () => {
      if (!response.started())
        answer(client, 502, `Airlock egress: ${host}:${port} closed the connection`);
    });
    tie(client, upstream);
    const extra: [string, string][] = [...body.headers, ["connection", "close"]];
    if (!hostHeader) extra.unshift(["host", url.host]);
    const start = `${method} ${url.pathname}${url.search} ${version}`;
    upstream.write(forwardHead(start, withoutFraming(head), extra));
    const take = (chunk: Buffer): void => {
      if (done) return;
      const step = body.push(chunk);
      if ("error" in step) {
        done = true;
        answer(client, 400, `Airlock egress: bad request: ${step.error}`);
        upstream.destroy();
        return;
      }
      let ok = true;
      for (const b of step.out) ok = upstream.write(b);
      done = step.done;
      if (!ok) {
        client.pause();
        upstream.once("drain", () => client.resume());
      }
    };
    take(rest);
    client.on("data", take);
    // A body the job stops sending halfway ends the request.
    client.once("end", () => {
      if (!done) upstream.destroy();
    });
    client.resume();
  }
}

/** The head without the headers that frame its body (the proxy frames it anew). */
function withoutFraming(h: Head): Head {
  return {
    ...h,
    headers: h.headers.filter(([n]) => n !== "content-length" && n !== "transfer-encoding"),
  };
}

/**
 * A destination's response to the job: each head rewritten for the job's connection (hop-by-hop
 * headers dropped, the body's framing kept, the connection closing after it), then its bytes,
 * which go to `body`.
 */
function responseToJob(client: Duplex, body: OnData): { onData: OnData; started: () => boolean } {
  let pending: Buffer | null = Buffer.alloc(0) as Buffer;
  const onData: OnData = (chunk, upstream) => {
    if (pending === null) return body(chunk, upstream);
    pending = Buffer.concat([pending, chunk]);
    const out: Buffer[] = [];
    for (;;) {
      const end = headEnd(pending);
      if (end < 0) {
        if (pending.length > MAX_HEAD) upstream.destroy();
        if (out.length === 0) return true;
        return forward(Buffer.concat(out), upstream, client);
      }
      const h = parseHead(pending.toString("latin1", 0, end));
      if (!h || !/^HTTP\/1\.[01]$/.test(h.start[0])) {
        upstream.destroy();
        return false;
      }
      const final = Number(h.start[1]) >= 200;
      // The body passes as the destination framed it.
      const keep = final ? ["content-length", "transfer-encoding"] : [];
      out.push(forwardHead(h.start.join(" "), h, final ? [["connection", "close"]] : [], keep));
      pending = pending.subarray(end);
      if (final) {
        out.push(pending);
        pending = null;
        return forward(Buffer.concat(out), upstream, client);
      }
    }
  };
  return { onData, started: () => pending === null || pending.length > 0 };
}

/** "host:port" or "[v6]:port" (the port may default); null when malformed. */
export function parseAuthority(
  text: string,
  defaultPort?: number,
): { host: string; port: number } | null {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+))(?::(\d{1,5}))?$/.exec(text);
  if (!m) return null;
  const port = m[3] !== undefined ? Number(m[3]) : defaultPort;
  if (port === undefined || port < 1 || port > 65535) return null;
  return { host: (m[1] ?? m[2]!).toLowerCase(), port };
}

/**
 * The head of the job's first request, and the bytes after it, with the connection paused; or
 * the status to answer when it is malformed, too large or too slow to come.
 */
function readHead(socket: net.Socket): Promise<{ head: Head; rest: Buffer } | number> {
  return new Promise((resolve) => {
    let got: Buffer = Buffer.alloc(0);
    const done = (r: { head: Head; rest: Buffer } | number) => {
      socket.off("data", onData);
      socket.off("end", onEnd);
      socket.setTimeout(0);
      socket.pause();
      resolve(r);
    };
    const onData = (chunk: Buffer) => {
      got = got.length === 0 ? chunk : Buffer.concat([got, chunk]);
      const end = headEnd(got);
      if (end < 0) {
        if (got.length > MAX_HEAD) done(431);
        return;
      }
      if (end > MAX_HEAD) return done(431);
      const head = parseHead(got.toString("latin1", 0, end));
      done(head ? { head, rest: got.subarray(end) } : 400);
    };
    const onEnd = () => done(400);
    socket.on("data", onData);
    socket.once("end", onEnd);
    socket.setTimeout(HEAD_TIMEOUT_MS, () => done(408));
  });
}

/** A whole response on the job's connection, then the end of it. */
function answer(socket: Duplex, status: number, message: string, refused = false): void {
  if (socket.destroyed || socket.writableEnded) return;
  socket.resume(); // what the job still sends is dropped, so its end is seen
  socket.end(plainResponse(status, message, refused));
}
