// Moving bytes once a connection is decided: no parsing, no stream machinery per chunk. What a
// destination sends is written to the job from the destination socket's own read buffer, whose
// reading pauses until the job has taken it all (so the buffer is never refilled under a write).
import type net from "node:net";
import type { Duplex } from "node:stream";
import type { OnData } from "./gate.js";

/** Writes `chunk` to `to`; when `to` cannot take it at once, pauses `from` until it drains. */
export function forward(chunk: Buffer, from: net.Socket, to: Duplex): boolean {
  if (to.destroyed) return false;
  to.write(chunk);
  if (to.writableLength === 0) return true;
  to.once("drain", () => from.resume());
  return false;
}

/** The bytes of a destination, as they come, to the job's connection. */
export function toJob(client: Duplex): OnData {
  return (chunk, upstream) => forward(chunk, upstream, client);
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
