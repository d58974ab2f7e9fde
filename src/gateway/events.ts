// The processing loop over stored deliveries: claims the oldest due event, hands it to the
// gateway's handler, and marks it done. Claim and completion are transactions, and writes the
// handler registers with `atCompletion` commit together with "done", so a crash at any point
// neither loses an event nor applies those writes twice.
import { ConfigError } from "../config/loader.js";
import type { CompletionWrite, EventQueue, StoredEvent } from "../store/index.js";
import { StoreBackoff } from "./backoff.js";
import { type GatewayEvent, parseEvent } from "./parse-event.js";

export interface HandlerContext {
  deliveryId: string;
  /** 1 on the first attempt; more after a failure or a restart mid-processing. */
  attempt: number;
  /**
   * Registers a database write that commits in the transaction marking this event done: it takes
   * effect exactly once. Anything else the handler does (API calls, other writes) may be repeated
   * after a crash and must be idempotent per `deliveryId`.
   */
  atCompletion(write: CompletionWrite): void;
}

export type EventHandler = (event: GatewayEvent, ctx: HandlerContext) => Promise<void>;

export type ProcessOutcome = "done" | "retry" | "failed" | "rejected";

export interface EventLoopOptions {
  store: EventQueue;
  handler: EventHandler;
  /** Attempts before an event is marked failed. */
  maxAttempts?: number;
  /** Delay before attempt n+1 after attempt n failed. */
  backoffMs?: (attempt: number) => number;
  /** How often to look for events that became due while idle. */
  pollMs?: number;
  /** Applied to handler errors before they are stored; they may quote tokens or URLs. */
  redact?: (text: string) => string;
  onProcessed?: (outcome: ProcessOutcome, seconds: number, event: StoredEvent) => void;
  onError?: (message: string, event: StoredEvent) => void;
  /** The store failed (the loop backs off and goes on); `pauseMs` is the pause before it does. */
  onStoreError?: (message: string, pauseMs: number) => void;
  /** The first pause after a store failure, doubled at each failure in a row (default 100 ms). */
  storeBackoffMs?: number;
}

/** Events parsed by intake kept for the loop, at most (beyond, the loop parses the stored copy). */
const FRESH_KEPT = 1000;

/** How soon a gateway looks again for a due event held back behind another gateway's. */
const BLOCKED_POLL_MS = 50;

// Whole milliseconds: PostgreSQL's bigint refuses a fraction (the retry was then never stored).
const defaultBackoff = (attempt: number) =>
  Math.round(Math.min(300_000, 1000 * 2 ** (attempt - 1)) * (0.75 + Math.random() * 0.5));

// Credentials an error message might quote: GitHub tokens, bearer/basic headers, PEM blocks,
// passwords in URLs.
const CREDENTIAL_PATTERNS: RegExp[] = [
  /-----BEGIN [A-Z ]+-----[\s\S]*?(-----END [A-Z ]+-----|$)/g,
  /\b(gh[pousr]_|github_pat_)[A-Za-z0-9_]{10,}/g,
  /\b(Bearer|token|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/gi,
  /\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]*/g,
  /(\/\/[^/\s:@]+:)[^@\s]+@/g,
];

/**
 * A failure that would happen the same way on every attempt (a file refused, a stack overflow on
 * hostile input): the event is failed at once rather than retried.
 */
export function isDeterministic(e: unknown): boolean {
  return e instanceof ConfigError || e instanceof RangeError;
}

/** Removes credential-shaped text and bounds the length of a stored error. */
export function redactError(text: string): string {
  let out = text;
  for (const p of CREDENTIAL_PATTERNS) {
    out = out.replace(p, (m, g1) =>
      typeof g1 === "string" && m.startsWith("//") ? `${g1}[redacted]@` : "[redacted]",
    );
  }
  return out.length > 500 ? `${out.slice(0, 500)}…` : out;
}

export class EventLoop {
  private running = false;
  private stopping = false;
  private wake: (() => void) | null = null;
  private timer: NodeJS.Timeout | null = null;
  private loopDone: Promise<void> = Promise.resolve();
  private idleWaiters: (() => void)[] = [];
  private readonly fresh = new Map<string, GatewayEvent>();
  private readonly maxAttempts: number;
  private readonly backoff: (attempt: number) => number;
  private readonly pollMs: number;
  private readonly storeBackoff: StoreBackoff;

  constructor(private readonly opts: EventLoopOptions) {
    this.maxAttempts = opts.maxAttempts ?? 5;
    this.backoff = opts.backoffMs ?? defaultBackoff;
    this.pollMs = opts.pollMs ?? 1000;
    this.storeBackoff = new StoreBackoff(opts.storeBackoffMs ?? 100, 30_000);
  }

  /** Starts processing; events left mid-processing by a previous process are taken up again. */
  async start(): Promise<void> {
    if (this.running) return;
    await this.opts.store.resetInterrupted();
    this.running = true;
    this.stopping = false;
    this.loopDone = this.run();
  }

  /**
   * Wakes the loop: a new event was stored. `fresh`: intake's parse of it, taken instead of parsing
   * the stored copy (the same text) again when this gateway claims it.
   */
  notify(fresh?: { deliveryId: string; event: GatewayEvent }): void {
    if (fresh && this.fresh.size < FRESH_KEPT) this.fresh.set(fresh.deliveryId, fresh.event);
    this.wake?.();
  }

  /** Stops after the event in hand is finished. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.notify();
    await this.loopDone;
    this.running = false;
  }

  /** Resolves when no event is due (for tests and shutdown). */
  idle(): Promise<void> {
    return new Promise((resolve) => {
      this.idleWaiters.push(resolve);
      this.notify();
    });
  }

  /** Processes one claimed event. Exposed for tests; the loop is the normal caller. */
  async process(ev: StoredEvent): Promise<ProcessOutcome> {
    const started = performance.now();
    const outcome = await this.handle(ev);
    this.opts.onProcessed?.(outcome, (performance.now() - started) / 1000, ev);
    return outcome;
  }

  /** The stored payload, parsed: by intake just now in this process, or here. */
  private parse(ev: StoredEvent): ReturnType<typeof parseEvent> | undefined {
    const fresh = this.fresh.get(ev.deliveryId);
    if (fresh) {
      this.fresh.delete(ev.deliveryId);
      return { status: "handled", event: fresh };
    }
    let payload: unknown;
    try {
      payload = JSON.parse(ev.payload);
    } catch {
      return undefined;
    }
    return parseEvent(ev.name, payload);
  }

  private async handle(ev: StoredEvent): Promise<ProcessOutcome> {
    const { store } = this.opts;
    const parsed = this.parse(ev);
    if (!parsed) {
      await store.finish(ev.seq, "rejected", "stored payload is not valid JSON");
      return "rejected";
    }
    if (parsed.status !== "handled") {
      await store.finish(ev.seq, "rejected", parsed.reason);
      return "rejected";
    }
    const writes: CompletionWrite[] = [];
    try {
      await this.opts.handler(parsed.event, {
        deliveryId: ev.deliveryId,
        attempt: ev.attempts,
        atCompletion: (w) => writes.push(w),
      });
      await store.complete(ev.seq, writes);
      return "done";
    } catch (e) {
      const raw = e instanceof Error ? e.message : String(e);
      const msg = (this.opts.redact ?? redactError)(raw);
      this.opts.onError?.(msg, ev);
      if (isDeterministic(e)) {
        await store.finish(ev.seq, "failed", `not retried, it would fail again: ${msg}`);
        return "failed";
      }
      if (ev.attempts >= this.maxAttempts) {
        await store.finish(ev.seq, "failed", `after ${ev.attempts} attempts: ${msg}`);
        return "failed";
      }
      await store.retryLater(ev.seq, Date.now() + this.backoff(ev.attempts), msg);
      return "retry";
    }
  }

  private async run(): Promise<void> {
    const { store } = this.opts;
    while (!this.stopping) {
      let wait: number;
      try {
        // After a store failure, an event it left claimed is taken up again.
        if (this.storeBackoff.streak > 0) await store.resetInterrupted();
        const ev = await store.claimNext();
        if (ev) {
          await this.process(ev);
          this.storeBackoff.succeeded();
          continue;
        }
        this.storeBackoff.succeeded();
        // Nothing to claim: what is left was taken by another gateway (or waits behind one).
        this.fresh.clear();
        for (const w of this.idleWaiters.splice(0)) w();
        if (this.stopping) break;
        const due = await store.nextDueAt();
        // A due event that was not claimed waits behind an older one another gateway holds: that
        // gateway takes it next, so this one looks again shortly rather than spinning on the claim.
        wait =
          due === undefined
            ? this.pollMs
            : Math.min(this.pollMs, Math.max(BLOCKED_POLL_MS, due - Date.now()));
      } catch (e) {
        // The store failed (claiming, or recording an outcome): pause, then go on.
        wait = this.storeBackoff.failed();
        this.opts.onStoreError?.(redactError(e instanceof Error ? e.message : String(e)), wait);
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        this.timer = setTimeout(resolve, wait);
      });
      this.wake = null;
      if (this.timer) clearTimeout(this.timer);
    }
    for (const w of this.idleWaiters.splice(0)) w();
  }
}
