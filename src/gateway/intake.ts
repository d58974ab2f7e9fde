// Webhook intake: authenticate a delivery, de-duplicate it by delivery id and store it before it
// is acknowledged (DESIGN.md invariant 6). Transport-free: the web route hands it headers and the
// raw body, and turns the outcome into an HTTP answer.
import { isUtf8 } from "node:buffer";
import { createHmac, timingSafeEqual } from "node:crypto";
import type { EventQueue } from "../store/index.js";
import { type GatewayEvent, HANDLED_EVENTS, parseEvent } from "./parse-event.js";

/** GitHub refuses to send payloads above 25 MB; neither do we accept them. */
export const MAX_DELIVERY_BYTES = 25 * 1024 * 1024;

export interface DeliveryInput {
  signature: string | undefined;
  event: string | undefined;
  delivery: string | undefined;
  contentType: string | undefined;
  body: Buffer;
}

export type IntakeOutcome =
  | { status: 401; reason: "signature_missing" | "signature_invalid" }
  | {
      status: 400;
      reason: "headers_invalid" | "not_utf8" | "malformed_json" | "bad_form";
      detail: string;
    }
  | { status: 204; reason: "ignored"; detail: string }
  | { status: 202; reason: "accepted"; deliveryId: string; name: string }
  | { status: 200; reason: "duplicate"; deliveryId: string }
  | { status: 422; reason: "rejected_payload"; deliveryId: string; detail: string }
  | { status: 503; reason: "store_failed" };

const EVENT_NAME = /^[a-z_]{1,64}$/;
// GitHub sends GUIDs; accept any short token so that Enterprise variants pass, but nothing that
// could smuggle control characters into logs.
const DELIVERY_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export interface IntakeOptions {
  /** Current and previous webhook secrets: any of them authenticates (rotation). */
  secrets: readonly string[];
  store: EventQueue;
  /** Called after a new delivery is stored, with its parse, to wake the processing loop. */
  onStored?: (stored: { deliveryId: string; event: GatewayEvent }) => void;
}

/**
 * The X-Hub-Signature-256 of the exact bytes received: GitHub signs bytes, and a body that is not
 * valid UTF-8 must still be authenticated (then refused for its encoding), not mistaken for a
 * forgery by decoding it first.
 */
export function signatureOf(secret: string, body: Buffer): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

export class Intake {
  constructor(private readonly opts: IntakeOptions) {
    if (opts.secrets.length === 0 || opts.secrets.some((s) => s.length === 0)) {
      throw new Error("intake needs at least one non-empty webhook secret");
    }
  }

  /** True when `signature` is a valid X-Hub-Signature-256 of `body` under any configured secret. */
  authentic(body: Buffer, signature: string): boolean {
    if (!signature.startsWith("sha256=") || body.length === 0) return false;
    const given = Buffer.from(signature);
    let ok = false;
    // Every secret is tried and compared in constant time, so the time taken says nothing about
    // which one matched or how much of the signature did.
    for (const secret of this.opts.secrets) {
      const want = Buffer.from(signatureOf(secret, body));
      if (want.length === given.length && timingSafeEqual(want, given)) ok = true;
    }
    return ok;
  }

  async receive(d: DeliveryInput): Promise<IntakeOutcome> {
    if (!d.signature) return { status: 401, reason: "signature_missing" };
    if (!this.authentic(d.body, d.signature)) {
      return { status: 401, reason: "signature_invalid" };
    }
    if (!isUtf8(d.body)) {
      return { status: 400, reason: "not_utf8", detail: "the body is not valid UTF-8" };
    }
    const raw = d.body.toString("utf8");
    if (!d.event || !EVENT_NAME.test(d.event) || !d.delivery || !DELIVERY_ID.test(d.delivery)) {
      return {
        status: 400,
        reason: "headers_invalid",
        detail: "X-GitHub-Event and X-GitHub-Delivery headers are required",
      };
    }
    if (!HANDLED_EVENTS.has(d.event)) {
      return { status: 204, reason: "ignored", detail: `event ${d.event} is not acted on` };
    }

    let json = raw;
    if (d.contentType?.startsWith("application/x-www-form-urlencoded")) {
      const form = new URLSearchParams(raw).get("payload");
      if (form === null) {
        return { status: 400, reason: "bad_form", detail: "form body has no payload field" };
      }
      json = form;
    }
    let payload: unknown;
    try {
      payload = JSON.parse(json);
    } catch {
      return { status: 400, reason: "malformed_json", detail: "body is not valid JSON" };
    }
    const parsed = parseEvent(d.event, payload);
    if (parsed.status === "ignored")
      return { status: 204, reason: "ignored", detail: parsed.reason };

    const action = (payload as { action?: unknown })?.action;
    let stored: "stored" | "duplicate";
    try {
      stored = await this.opts.store.insert({
        deliveryId: d.delivery,
        name: d.event,
        action: typeof action === "string" ? action : null,
        payload: json,
        ...(parsed.status === "rejected" ? { state: "rejected", error: parsed.reason } : {}),
      });
    } catch {
      // Not acknowledged, so GitHub records a failed delivery that can be redelivered.
      return { status: 503, reason: "store_failed" };
    }
    if (stored === "duplicate") return { status: 200, reason: "duplicate", deliveryId: d.delivery };
    if (parsed.status === "rejected") {
      return {
        status: 422,
        reason: "rejected_payload",
        deliveryId: d.delivery,
        detail: parsed.reason,
      };
    }
    this.opts.onStored?.({ deliveryId: d.delivery, event: parsed.event });
    return { status: 202, reason: "accepted", deliveryId: d.delivery, name: d.event };
  }
}
