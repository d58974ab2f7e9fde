// The HTTP proxy a job's HTTP_PROXY/HTTPS_PROXY point at: CONNECT tunnels (HTTPS and anything
// else over TCP) and plain HTTP requests in absolute form. Each goes through the gate; a tunnel's
// TLS server name, and a plain request's Host header, must be allowed too, so a connection to an
// allowed front end cannot ask it for another site.
import http from "node:http";
import type net from "node:net";
import type { Duplex } from "node:stream";
import type { EgressGate } from "./gate.js";
import { EgressPolicy } from "./policy.js";
import type { Tally } from "./record.js";
import { hostName } from "./rules.js";
import { MAX_HELLO, readClientHello } from "./tls-sni.js";

/** Headers that concern one hop only (RFC 9110 7.6.1), never forwarded. */
const HOP_BY_HOP = new Set([
  "connection",
  "proxy-connection",
  "keep-alive",
  "proxy-authorization",
  "proxy-authenticate",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

export class EgressProxy {
  readonly #gate: EgressGate;
  readonly #server: http.Server;
  readonly #clients = new Set<Duplex>();
  /** Connections whose bytes are still to be counted. */
  readonly #uncounted = new Set<() => void>();

  constructor(gate: EgressGate) {
    this.#gate = gate;
    // No request timeout: a plain HTTP upload may take as long as the job does.
    this.#server = http.createServer({ requestTimeout: 0, headersTimeout: 60_000 });
    this.#server.on("request", (req, res) => void this.#request(req, res));
    this.#server.on("connect", (req, socket, head) => void this.#connect(req, socket, head));
    this.#server.on("upgrade", (_req, socket: Duplex) => {
      answer(
        socket,
        501,
        "Airlock egress: upgrades need a CONNECT tunnel (use https:// or wss://)",
      );
    });
    this.#server.on("clientError", (_e, socket: Duplex) => answer(socket, 400, "bad request"));
  }

  /** Serves a connection from the job. */
  accept(socket: net.Socket): void {
    this.#clients.add(socket);
    socket.once("close", () => this.#clients.delete(socket));
    socket.on("error", () => {});
    this.#server.emit("connection", socket);
  }

  /** Counts every open connection's bytes so far, then ends them all. */
  close(): void {
    for (const count of [...this.#uncounted]) count();
    this.#gate.close();
    for (const c of this.#clients) c.destroy();
  }

  async #connect(req: http.IncomingMessage, client: Duplex, head: Buffer): Promise<void> {
    const authority = parseAuthority(req.url ?? "");
    if (!authority) {
      answer(client, 400, "Airlock egress: CONNECT needs host:port");
      return;
    }
    const opened = await this.#gate.open("connect", authority.host, authority.port);
    if (!opened.ok) {
      answer(client, opened.status, opened.message);
      return;
    }
    const upstream = opened.socket;
    if (client.destroyed) {
      upstream.destroy();
      return;
    }
    let tally: Tally | null = null;
    const settle = (reason?: string) => {
      if (tally) return;
      const a = opened.attempt;
      const audit = this.#gate.policy.audit;
      tally = this.#gate.record(
        reason ? { ...a, verdict: audit ? "audit" : "refused", reason } : a,
      );
    };
    // Errors end both sides at once; a clean end of either side reaches the other through pipe().
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
    this.#countOnce(upstream, () => {
      settle();
      return tally!;
    });
    upstream.once("close", () => client.end());
    client.once("close", () => upstream.destroy());
    client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
    upstream.pipe(client);
    // The first bytes from the job say whether it speaks TLS and to which server name.
    let first = head;
    const check = (): boolean => {
      const hello = readClientHello(first);
      if (hello.kind === "partial" && first.length < MAX_HELLO) return false;
      const refusal = hello.kind === "sni" ? this.#nameRefusal(hello.name, authority) : null;
      settle(refusal ?? undefined);
      if (refusal && !this.#gate.policy.audit) {
        upstream.destroy();
        client.destroy();
        return true;
      }
      upstream.write(first);
      client.pipe(upstream);
      return true;
    };
    if (first.length > 0 && check()) return;
    const onData = (chunk: Buffer) => {
      first = Buffer.concat([first, chunk]);
      if (check()) client.off("data", onData);
    };
    client.on("data", onData);
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

  async #request(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let url: URL;
    try {
      url = new URL(req.url ?? "");
    } catch {
      res.writeHead(400, { "content-type": "text/plain" });
      res.end("This is Airlock's egress proxy: send requests for http:// URLs through it.\n");
      return;
    }
    if (url.protocol !== "http:") {
      res.writeHead(400, { "content-type": "text/plain" });
      res.end(`Airlock egress: ${url.protocol} URLs go through a CONNECT tunnel\n`);
      return;
    }
    const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
    const port = url.port ? Number(url.port) : 80;
    const hostHeader = req.headers.host ? parseAuthority(req.headers.host, port) : null;
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
      refuseRequest(req, res, 403, `Airlock egress: ${refusal}`);
      return;
    }
    const opened = await this.#gate.open("http", host, port);
    if (!opened.ok) {
      refuseRequest(req, res, opened.status, opened.message);
      return;
    }
    const upstream = opened.socket;
    const tally = this.#gate.record(
      refusal ? { ...opened.attempt, verdict: "audit", reason: refusal } : opened.attempt,
    );
    this.#countOnce(upstream, () => tally);
    const headers: http.OutgoingHttpHeaders = {};
    const dropped = connectionTokens(req.headers.connection);
    for (const [k, v] of Object.entries(req.headers)) {
      if (!HOP_BY_HOP.has(k) && !dropped.has(k) && v !== undefined) headers[k] = v;
    }
    headers.connection = "close";
    const up = http.request({
      method: req.method,
      path: `${url.pathname}${url.search}`,
      headers,
      setHost: false,
      createConnection: () => upstream,
    });
    up.on("response", (r) => {
      const out: http.OutgoingHttpHeaders = {};
      const drop = connectionTokens(r.headers.connection);
      for (const [k, v] of Object.entries(r.headers)) {
        if (!HOP_BY_HOP.has(k) && !drop.has(k) && v !== undefined) out[k] = v;
      }
      res.writeHead(r.statusCode ?? 502, r.statusMessage, out);
      r.pipe(res);
      r.on("error", () => res.destroy());
    });
    up.on("error", () => {
      if (!res.headersSent) {
        res.writeHead(502, { "content-type": "text/plain" });
        res.end(`Airlock egress: ${host}:${port} closed the connection\n`);
      } else res.destroy();
    });
    res.on("close", () => upstream.destroy());
    req.pipe(up);
  }
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

function connectionTokens(v: string | undefined): Set<string> {
  return new Set(
    (v ?? "")
      .split(",")
      .map((t) => t.trim().toLowerCase())
      .filter(Boolean),
  );
}

function refuseRequest(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  status: number,
  msg: string,
) {
  req.resume();
  res.writeHead(status, { "content-type": "text/plain", "x-airlock-egress": "refused" });
  res.end(`${msg}\n`);
}

/** A whole response on a raw socket, then the end of it. */
function answer(socket: Duplex, status: number, message: string): void {
  if (socket.destroyed) return;
  const body = `${message}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ""}\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
