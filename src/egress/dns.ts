// The job's DNS server (its /etc/resolv.conf names it): names resolve only when a rule allows
// them, and only to addresses the job may reach; every other name is NXDOMAIN, and is never sent
// on to a real resolver, so DNS carries nothing out of the sandbox either.
import type dgram from "node:dgram";
import * as packet from "dns-packet";
import type { EgressGate } from "./gate.js";
import type { Resolve } from "./resolver.js";
import { hostName } from "./rules.js";

const NOERROR = 0;
const SERVFAIL = 2;
const NXDOMAIN = 3;
/** Short, so a job sees a name's new addresses soon; the proxy resolves for itself anyway. */
const TTL_S = 10;
/** Answers stay within a classic 512-byte UDP message. */
const MAX_ANSWERS = 16;

export function serveDns(socket: dgram.Socket, gate: EgressGate, resolve: Resolve): void {
  socket.on("message", (msg, from) => {
    void answer(msg, gate, resolve).then(
      (reply) => {
        if (reply) socket.send(reply, from.port, from.address, () => {});
      },
      () => {},
    );
  });
  socket.on("error", () => {});
}

async function answer(msg: Buffer, gate: EgressGate, resolve: Resolve): Promise<Buffer | null> {
  let q: packet.DecodedPacket;
  try {
    q = packet.decode(msg);
  } catch {
    return null;
  }
  const question = q.questions?.[0];
  if (q.type !== "query" || !question) return null;
  const reply = (rcode: number, answers: packet.Answer[] = []) =>
    packet.encode({
      type: "response",
      id: q.id,
      flags: packet.RECURSION_DESIRED | packet.RECURSION_AVAILABLE | rcode,
      questions: [question],
      answers,
    });
  const name = hostName(question.name);
  const { policy } = gate;
  const allowed = name !== null && policy.nameAllowed(name, null);
  if (!allowed) {
    // One record per name and verdict: the count says how often it was asked.
    gate.record({
      via: "dns",
      host: name ?? question.name.slice(0, 253),
      port: null,
      address: null,
      verdict: policy.audit && name !== null ? "audit" : "refused",
      reason: `${name ?? "a malformed name"} is not in network.allow (DNS lookup)`,
    });
    if (!policy.audit || name === null) return reply(NXDOMAIN);
  }
  if (question.type !== "A" && question.type !== "AAAA") return reply(NOERROR);
  let addrs: Awaited<ReturnType<Resolve>>;
  try {
    addrs = await resolve(name!);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return reply(code === "ENOTFOUND" || code === "ENODATA" ? NXDOMAIN : SERVFAIL);
  }
  const kind = question.type === "A" ? "ipv4" : "ipv6";
  const answers: packet.Answer[] = addrs
    .filter((a) => a.kind() === kind && (policy.audit || policy.forbidden(a, null) === null))
    .slice(0, MAX_ANSWERS)
    .map((a) => ({
      type: question.type as "A" | "AAAA",
      name: question.name,
      ttl: TTL_S,
      data: a.toString(),
    }));
  return reply(NOERROR, answers);
}
