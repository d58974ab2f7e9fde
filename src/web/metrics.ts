// Prometheus metrics of the gateway, on a registry of its own so that several servers (tests)
// can live in one process.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

export class GatewayMetrics {
  readonly registry = new Registry();
  readonly received: Counter;
  readonly accepted: Counter;
  readonly duplicates: Counter;
  readonly ignored: Counter;
  readonly rejected: Counter<"reason">;
  readonly intakeSeconds: Histogram;
  readonly processed: Counter<"outcome">;
  readonly processingSeconds: Histogram;

  constructor(
    opts: { queueDepth?: () => number | Promise<number>; defaultMetrics?: boolean } = {},
  ) {
    const registers = [this.registry];
    this.received = new Counter({
      name: "airlock_webhook_deliveries_received_total",
      help: "Webhook deliveries received",
      registers,
    });
    this.accepted = new Counter({
      name: "airlock_webhook_deliveries_accepted_total",
      help: "Deliveries authenticated and stored for processing",
      registers,
    });
    this.duplicates = new Counter({
      name: "airlock_webhook_deliveries_duplicate_total",
      help: "Deliveries already stored (redeliveries), not processed again",
      registers,
    });
    this.ignored = new Counter({
      name: "airlock_webhook_deliveries_ignored_total",
      help: "Authentic deliveries of events or actions the gateway does not act on",
      registers,
    });
    this.rejected = new Counter({
      name: "airlock_webhook_deliveries_rejected_total",
      help: "Deliveries refused, by reason",
      labelNames: ["reason"],
      registers,
    });
    this.intakeSeconds = new Histogram({
      name: "airlock_webhook_intake_seconds",
      help: "Time to verify and store a delivery",
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5],
      registers,
    });
    this.processed = new Counter({
      name: "airlock_events_processed_total",
      help: "Stored events handled, by outcome",
      labelNames: ["outcome"],
      registers,
    });
    this.processingSeconds = new Histogram({
      name: "airlock_event_processing_seconds",
      help: "Time the handler took per event",
      buckets: [0.001, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
      registers,
    });
    const depth = opts.queueDepth;
    new Gauge({
      name: "airlock_events_queue_depth",
      help: "Stored events waiting or in progress",
      registers,
      async collect() {
        // A store that cannot answer leaves the last value (and /readyz says why).
        if (depth) this.set(await Promise.resolve(depth()).catch(() => Number.NaN));
      },
    });
    if (opts.defaultMetrics) collectDefaultMetrics({ register: this.registry });
  }
}
