// The one place a job's connection is decided and made: the requested host against the rules,
// then each address it resolves to against the forbidden ranges (the address connected to is the
// one checked, so a name cannot be re-pointed between check and use), then the connection.
import net from "node:net";
import { EgressPolicy, forbiddenReason } from "./policy.js";
import type { Attempt, ConnectionLog, Tally } from "./record.js";
import type { Resolve } from "./resolver.js";
import type { Address } from "./rules.js";

export interface GateOptions {
  policy: EgressPolicy;
  log: ConnectionLog;
  resolve: Resolve;
  /** A line for the job's own log when something is refused (the caller rate-limits). */
  onRefused?: (line: string) => void;
  /** Most upstream connections open at once (default 256). */
  maxOpen?: number;
  /** How long a connection to a destination may take (default 30 s). */
  connectTimeoutMs?: number;
}

/**
 * Receives what a destination sends, straight from the socket's read buffer (reused after it
 * returns: keep nothing of `chunk` without copying it); false pauses reading until `socket.resume()`.
 */
export type OnData = (chunk: Buffer, socket: net.Socket) => boolean;

/** What each destination connection reads into: large, so a download costs few reads. */
const READ_BUFFER = 256 * 1024;

export type Opened =
  | { ok: true; socket: net.Socket; attempt: Attempt }
  | { ok: false; status: 403 | 502 | 503; message: string };

export class EgressGate {
  readonly #o: GateOptions;
  readonly #open = new Set<net.Socket>();
  #closed = false;

  constructor(o: GateOptions) {
    this.#o = o;
  }

  get policy(): EgressPolicy {
    return this.#o.policy;
  }

  /** Records an attempt and returns the tally its bytes go to. */
  record(a: Attempt): Tally {
    if (a.verdict !== "allowed") {
      this.#o.onRefused?.(
        a.verdict === "refused"
          ? `egress refused: ${a.reason}`
          : `egress audit: allowed, would be refused: ${a.reason}`,
      );
    }
    return this.#o.log.record(a);
  }

  /**
   * Decides on `host:port` and connects. A refusal is recorded here; an opened connection is
   * recorded by the caller once it knows all it will check (a tunnel's TLS server name).
   * What the destination sends goes to `onData`.
   */
  async open(via: "connect" | "http", host: string, port: number, onData: OnData): Promise<Opened> {
    const { policy } = this.#o;
    const refuse = (address: string | null, reason: string): Opened => {
      this.record({ via, host, port, address, verdict: "refused", reason });
      return { ok: false, status: 403, message: `Airlock egress: ${reason}` };
    };
    const fail = (address: string | null, audit: string | null, error: string): Opened => {
      const verdict = audit ? "audit" : "allowed";
      this.record({
        via,
        host,
        port,
        address,
        verdict,
        ...(audit ? { reason: audit } : {}),
        error,
      });
      return { ok: false, status: 502, message: `Airlock egress: ${host}:${port}: ${error}` };
    };
    if (this.#closed) return { ok: false, status: 503, message: "Airlock egress: the job is over" };
    const target = EgressPolicy.target(host);
    if (!target)
      return refuse(null, `${JSON.stringify(host)} is neither a host name nor an address`);
    let audit = policy.checkTarget(target, port);
    if (audit && !policy.audit) return refuse(null, audit);
    if (this.#open.size >= (this.#o.maxOpen ?? 256)) {
      return refuse(null, `more than ${this.#o.maxOpen ?? 256} connections open at once`);
    }
    let addrs: Address[];
    try {
      addrs = target.kind === "address" ? [target.address] : await this.#o.resolve(target.name);
    } catch (e) {
      return fail(null, audit, `cannot resolve: ${(e as NodeJS.ErrnoException).code ?? "error"}`);
    }
    if (addrs.length === 0) return fail(null, audit, "resolves to no address");
    const usable = addrs.filter((a) => policy.forbidden(a, port) === null);
    if (usable.length === 0) {
      const first = addrs[0]!;
      const why = forbiddenReason(
        target.kind === "name" ? host : null,
        first,
        policy.forbidden(first, port)!,
      );
      if (!policy.audit) return refuse(first.toString(), why);
      audit ??= why;
    }
    let lastError = "";
    for (const a of usable.length > 0 ? usable : addrs) {
      const address = a.toString();
      try {
        const socket = await this.#connect(address, port, onData);
        const attempt: Attempt = {
          via,
          host,
          port,
          address,
          verdict: audit ? "audit" : "allowed",
          ...(audit ? { reason: audit } : {}),
        };
        return { ok: true, socket, attempt };
      } catch (e) {
        lastError = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
      }
    }
    return fail((usable[0] ?? addrs[0])!.toString(), audit, `cannot connect: ${lastError}`);
  }

  #connect(address: string, port: number, onData: OnData): Promise<net.Socket> {
    return new Promise((resolve, reject) => {
      const buffer = Buffer.allocUnsafe(READ_BUFFER);
      const s: net.Socket = net.connect({
        host: address,
        port,
        noDelay: true,
        onread: { buffer, callback: (n) => onData(buffer.subarray(0, n), s) },
      });
      s.setTimeout(this.#o.connectTimeoutMs ?? 30_000, () => s.destroy(timeoutError()));
      s.once("connect", () => {
        if (this.#closed) {
          s.destroy();
          reject(new Error("the job is over"));
          return;
        }
        s.setTimeout(0);
        this.#open.add(s);
        s.once("close", () => this.#open.delete(s));
        resolve(s);
      });
      s.once("error", reject);
    });
  }

  /** Ends every connection of the job; nothing opens afterwards. */
  close(): void {
    this.#closed = true;
    for (const s of this.#open) s.destroy();
  }
}

function timeoutError(): Error {
  return Object.assign(new Error("timed out"), { code: "ETIMEDOUT" });
}
