// Moving bytes once a connection is decided: no parsing, no stream machinery per chunk. What a
// destination sends is written to the job from the destination socket's own read buffer, whose
// reading pauses until the job has taken it all (so the buffer is never refilled under a write).
import type net from "node:net";
import type { Duplex } from "node:stream";
import type { OnData } from "./gate.js";
import type { SpliceRelay } from "./splice-relay.js";

/** Writes `chunk` to `to`; when `to` cannot take it at once, pauses `from` until it drains. */
export function forward(chunk: Buffer, from: net.Socket, to: Duplex): boolean {
  if (to.destroyed) return false;
  to.write(chunk);
  if (to.writableLength === 0) return true;
  to.once("drain", () => from.resume());
  return false;
}

/** What lets a destination's download leave the proxy for the job's splice relay. */
export interface Handoff {
  relay: SpliceRelay;
  /** Whether the connection is decided far enough that the proxy need not see its bytes. */
  ready(): boolean;
  /** The bytes the relay read from the destination, once it is done. */
  counted(bytes: number): void;
}

/**
 * The bytes of a destination, as they come, to the job's connection; once it has sent enough,
 * and `handoff` is ready, the rest goes through the relay instead.
 */
export function toJob(client: net.Socket, handoff?: Handoff): OnData {
  let moving = false;
  return (chunk, upstream) => {
    const relay = handoff?.relay;
    if (
      moving ||
      !relay?.usable ||
      upstream.bytesRead < relay.afterBytes ||
      !handoff!.ready() ||
      client.destroyed
    ) {
      return forward(chunk, upstream, client);
    }
    // Reading stays paused: the relay is the destination's only reader from here on, once the
    // job's socket holds nothing unwritten (the chunk is the read buffer, not a copy).
    moving = true;
    const move = () => {
      if (client.destroyed || upstream.destroyed) return;
      void relay
        .move(client, upstream, (bytes, ok) => {
          handoff!.counted(bytes);
          if (!ok) {
            client.destroy();
            upstream.destroy();
            return;
          }
          // The destination has ended, and the relay has ended the job's side: what tie() and
          // net.connect's allowHalfOpen: false do on its 'end', which the proxy will not read.
          client.end();
          upstream.end(() => upstream.destroy());
        })
        .then((moved) => {
          if (!moved) upstream.resume();
        });
    };
    client.write(chunk);
    if (client.writableLength === 0) move();
    else client.once("drain", move);
    return false;
  };
}

/** Ties the ends of two connections: an error or close of one ends the other. */
export function tie(client: Duplex, upstream: net.Socket): void {
  client.on("error", () => upstream.destroy());
  upstream.on("error", () => client.destroy());
  // What the destination sent is delivered before the job's connection ends.
  upstream.once("end", () => client.end());
  upstream.once("close", () => client.end());
  client.once("close", () => upstream.destroy());
}
