// POST /webhooks/github: the raw body is kept as a Buffer so the signature is checked over the
// exact bytes GitHub signed. The parsers are scoped to this route's plugin.
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { type Intake, type IntakeOutcome, MAX_DELIVERY_BYTES } from "../../gateway/intake.js";
import type { GatewayMetrics } from "../metrics.js";

export interface WebhookRouteOptions {
  intake: Intake;
  metrics: GatewayMetrics;
  bodyLimit?: number;
}

function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return typeof v === "string" ? v : undefined;
}

function answer(reply: FastifyReply, o: IntakeOutcome): FastifyReply {
  switch (o.status) {
    case 401:
      return reply.code(401).send({ error: "signature missing or invalid" });
    case 400:
    case 422:
      return reply.code(o.status).send({ error: o.detail });
    case 204:
      return reply.code(204).send();
    case 202:
      return reply.code(202).send({ status: "accepted", delivery: o.deliveryId });
    case 200:
      return reply.code(200).send({ status: "duplicate", delivery: o.deliveryId });
    case 503:
      return reply.code(503).send({ error: "could not store the delivery; redeliver it later" });
  }
}

function count(m: GatewayMetrics, o: IntakeOutcome): void {
  switch (o.reason) {
    case "accepted":
      m.accepted.inc();
      break;
    case "duplicate":
      m.duplicates.inc();
      break;
    case "ignored":
      m.ignored.inc();
      break;
    default:
      m.rejected.inc({ reason: o.reason });
  }
}

export async function webhookRoute(app: FastifyInstance, opts: WebhookRouteOptions) {
  const bodyLimit = opts.bodyLimit ?? MAX_DELIVERY_BYTES;
  const keepBuffer = (_req: FastifyRequest, body: Buffer, done: (e: null, b: Buffer) => void) =>
    done(null, body);
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("application/json", { parseAs: "buffer", bodyLimit }, keepBuffer);
  app.addContentTypeParser(
    "application/x-www-form-urlencoded",
    { parseAs: "buffer", bodyLimit },
    keepBuffer,
  );

  app.setErrorHandler((err: { statusCode?: number; code?: string }, _req, reply) => {
    const status = err.statusCode ?? 500;
    const reason =
      status === 413 ? "too_large" : status === 415 ? "unsupported_media_type" : "bad_request";
    opts.metrics.rejected.inc({ reason });
    if (status === 413) {
      return reply.code(413).send({ error: `delivery is larger than ${bodyLimit} bytes` });
    }
    if (status === 415) {
      return reply.code(415).send({ error: "content type must be application/json" });
    }
    return reply.code(Math.min(status, 500)).send({ error: "could not read the delivery" });
  });

  app.post("/webhooks/github", { bodyLimit }, async (req, reply) => {
    const started = performance.now();
    opts.metrics.received.inc();
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const outcome = await opts.intake.receive({
      signature: header(req, "x-hub-signature-256"),
      event: header(req, "x-github-event"),
      delivery: header(req, "x-github-delivery"),
      contentType: header(req, "content-type"),
      body,
    });
    count(opts.metrics, outcome);
    opts.metrics.intakeSeconds.observe((performance.now() - started) / 1000);
    if (outcome.status === 503) {
      // GitHub does not send it again on its own: this line names it for `airlock app redeliver`.
      req.log.error(
        { delivery: header(req, "x-github-delivery"), event: header(req, "x-github-event") },
        "delivery refused: it could not be stored; once /readyz answers 200, `airlock app redeliver` asks GitHub to send it again",
      );
    }
    return answer(reply, outcome);
  });
}
