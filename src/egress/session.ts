// One job's egress: its policy, proxy, DNS server and connection record, serving whatever
// listening sockets the executor hands it (inside the job's network namespace for the local
// executor; on loopback in tests and benchmarks).
import type dgram from "node:dgram";
import type net from "node:net";
import { serveDns } from "./dns.js";
import { EgressGate } from "./gate.js";
import { EgressPolicy } from "./policy.js";
import { EgressProxy } from "./proxy.js";
import { ConnectionLog, type EgressRecord } from "./record.js";
import { createResolver, type Resolve } from "./resolver.js";
import type { SpliceRelay } from "./splice-relay.js";
import type { EgressSpec } from "./types.js";

export interface EgressSessionOptions {
  spec: EgressSpec;
  /** Names resolved without DNS (the sandbox's /etc/hosts has them too). */
  hosts?: Record<string, string[]>;
  /** Replaces the resolver (hosts, then the system's). */
  resolve?: Resolve;
  /** Replaces the default forbidden ranges. */
  forbidden?: string[];
  /** Lines for the job's log (refusals); each distinct line is written once, at most 20 in all. */
  note?: (line: string) => void;
  /** Where large downloads move once decided (see splice-relay.ts); the proxy relays them without. */
  relay?: SpliceRelay;
}

const MAX_NOTES = 20;

export class EgressSession {
  readonly #log: ConnectionLog;
  readonly #gate: EgressGate;
  readonly #proxy: EgressProxy;
  readonly #resolve: Resolve;
  readonly #relay: SpliceRelay | undefined;
  readonly #servers: (net.Server | dgram.Socket)[] = [];
  #closed = false;

  constructor(o: EgressSessionOptions) {
    const policy = new EgressPolicy(o.spec.allow, {
      audit: o.spec.audit,
      ...(o.forbidden ? { forbidden: o.forbidden } : {}),
    });
    this.#log = new ConnectionLog(o.spec.audit ? "audit" : "enforce");
    this.#resolve = o.resolve ?? createResolver(o.hosts);
    const seen = new Set<string>();
    const note = o.note;
    this.#gate = new EgressGate({
      policy,
      log: this.#log,
      resolve: this.#resolve,
      ...(note
        ? {
            onRefused: (line: string) => {
              if (seen.has(line) || seen.size > MAX_NOTES) return;
              seen.add(line);
              note(
                seen.size > MAX_NOTES
                  ? "more egress refusals follow: the job's connection record lists them all"
                  : line,
              );
            },
          }
        : {}),
    });
    this.#relay = o.relay;
    this.#proxy = new EgressProxy(this.#gate, o.relay);
  }

  /** Serves the proxy on a listening TCP server (connections already accepted by it). */
  serveProxy(server: net.Server): void {
    if (this.#keep(server)) server.on("connection", (s) => this.#proxy.accept(s));
  }

  serveDns(socket: dgram.Socket): void {
    if (this.#keep(socket)) serveDns(socket, this.#gate, this.#resolve);
  }

  /** Whether to serve on `s`: after close, anything handed over is closed at once. */
  #keep(s: net.Server | dgram.Socket): boolean {
    this.#servers.push(s);
    if (this.#closed) closeQuietly(s);
    return !this.#closed;
  }

  /** Stops serving, ends every connection, and returns the record (with the relay's counts). */
  async close(): Promise<EgressRecord> {
    this.#closed = true;
    for (const s of this.#servers) closeQuietly(s);
    this.#proxy.close();
    await this.#relay?.close();
    return this.#log.snapshot();
  }

  snapshot(): EgressRecord {
    return this.#log.snapshot();
  }
}

function closeQuietly(s: net.Server | dgram.Socket): void {
  try {
    s.close();
  } catch {
    // already closed
  }
}
