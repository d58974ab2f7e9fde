// Delivers the outbox to GitHub: each stored write is sent, retried with exponential backoff and
// jitter, and paused for as long as GitHub asks (Retry-After, an exhausted rate limit). This module
// stores items and runs the delivery loop; what an item says is in messages.ts, how one is sent in
// send.ts, and what follows a failure in retry.ts.
import { randomUUID } from "node:crypto";
import { REQUEST_TIMEOUT_MS } from "../../forge/github/http.js";
import type { CheckRunState, CommitStatus, Forge } from "../../forge/types.js";
import type { OutboxItem, Store } from "../../store/index.js";
import { StoreBackoff } from "../backoff.js";
import { commentItem, type OutboxMessage } from "./messages.js";
import { afterFailure, type RetryPolicy } from "./retry.js";
import { ClaimLost, Sender } from "./send.js";

export { commentItem, commentMarker, type OutboxMessage, statusFromCheck } from "./messages.js";

export interface OutboxLogger {
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
}

export interface OutboxOptions {
  /** The forge as one installation sees it. */
  forgeFor: (installationId: number) => Forge;
  /** The app's id, to find its own check runs when a create's answer was lost. */
  appId?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Wait when GitHub signals a rate limit without saying for how long. */
  rateLimitDelayMs?: number;
  /** Transient failures are retried until an item is this old; then it is marked failed. */
  deadlineMs?: number;
  /**
   * The forge client's request timeout: how long after it was sent a write may still land. An
   * item whose gateway stalled past its lease with a write in flight is taken over only after it.
   */
  requestTimeoutMs?: number;
  /** Items this gateway sends at the same time (different ordering keys only; default 4). */
  concurrency?: number;
  /**
   * Items of one installation in flight at once on every gateway sharing the store (default 4):
   * N gateways do not send N times as many writes at once as the App's installation.
   */
  perInstallation?: number;
  /** The first pause after a store failure, doubled at each failure in a row (default 100 ms). */
  storeBackoffMs?: number;
  now?: () => number;
  random?: () => number;
  log?: OutboxLogger;
}

/** The shared pause of the App's writes. */
const PAUSE = "github";
/**
 * How soon a gateway looks again for a due item held back behind another gateway's (of its
 * ordering key, or of its installation's share).
 */
const BLOCKED_POLL_MS = 50;

export class Outbox {
  private readonly retry: RetryPolicy;
  private readonly concurrency: number;
  private readonly perInstallation: number;
  private readonly now: () => number;
  private readonly sender: Sender;
  /**
   * No item is sent before this time: a spent rate limit applies to the whole app, and so to every
   * gateway sending as it (shared through the store's pause "github").
   */
  private pausedUntil = 0;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  /** Pauses delivery while the store fails. */
  private readonly storeBackoff: StoreBackoff;

  constructor(
    /** Where items are stored (and, for enqueues inside a transaction, pass that transaction). */
    readonly db: Store,
    private readonly opts: OutboxOptions,
  ) {
    this.retry = {
      baseDelayMs: opts.baseDelayMs ?? 1000,
      maxDelayMs: opts.maxDelayMs ?? 15 * 60_000,
      rateLimitDelayMs: opts.rateLimitDelayMs ?? 60_000,
      deadlineMs: opts.deadlineMs ?? 3 * 24 * 3600_000,
      random: opts.random ?? Math.random,
    };
    this.concurrency = opts.concurrency ?? 4;
    this.perInstallation = opts.perInstallation ?? 4;
    const now = opts.now ?? Date.now;
    this.now = now;
    this.storeBackoff = new StoreBackoff(
      opts.storeBackoffMs ?? 100,
      Math.min(30_000, this.retry.maxDelayMs),
    );
    const log = opts.log;
    this.sender = new Sender(db, {
      forgeFor: opts.forgeFor,
      appId: opts.appId,
      requestTimeoutMs: opts.requestTimeoutMs ?? REQUEST_TIMEOUT_MS,
      now,
      warn: log && ((obj, msg) => log.warn(obj, msg)),
    });
  }

  // ---- enqueueing -------------------------------------------------------------------------

  /**
   * The next full state of a check run. Older states of the same check not tried yet are
   * superseded.
   * `onlyIf` decides, at the moment of storing, whether the state is still the caller's to send;
   * `via`: the transaction to store it in (by default one of its own).
   */
  checkRun(
    repo: string,
    installationId: number,
    state: CheckRunState,
    o: { onlyIf?: (tx: Store) => Promise<boolean>; via?: Store } = {},
  ) {
    return (o.via ?? this.db).outbox.enqueue(
      {
        kind: "check_run",
        key: `check_run:${randomUUID()}`,
        orderingKey: `check:${repo}:${state.head_sha}:${state.name}`,
        repo,
        installationId,
        payload: { kind: "check_run", state } satisfies OutboxMessage,
        supersedes: true,
        // A re-run whose queued and running states were superseded by its result is still a re-run.
        fold: (payload, older) =>
          (older as OutboxMessage[]).some(
            (o) => o.kind === "check_run" && (o.state.status !== "completed" || o.reopens),
          )
            ? { ...(payload as OutboxMessage), reopens: true }
            : payload,
      },
      undefined,
      o.onlyIf,
    );
  }

  status(
    repo: string,
    installationId: number,
    sha: string,
    status: CommitStatus,
    key = randomUUID(),
  ) {
    return this.db.outbox.enqueue({
      kind: "status",
      key: `status:${key}`,
      orderingKey: `status:${repo}:${sha}:${status.context}`,
      repo,
      installationId,
      payload: { kind: "status", sha, status } satisfies OutboxMessage,
      supersedes: true,
    });
  }

  /** A comment, posted once per key (give a key derived from the event that caused it). */
  comment(repo: string, installationId: number, issue: number, body: string, key: string) {
    return this.db.outbox.enqueue(commentItem(repo, installationId, issue, body, key));
  }

  /** `via`: the transaction to store it in (by default one of its own). */
  removeLabel(
    repo: string,
    installationId: number,
    issue: number,
    label: string,
    key: string,
    via?: Store,
  ) {
    return (via ?? this.db).outbox.enqueue({
      kind: "remove_label",
      key: `remove_label:${key}`,
      orderingKey: `label:${repo}:${issue}:${label}`,
      repo,
      installationId,
      payload: { kind: "remove_label", issue, label } satisfies OutboxMessage,
    });
  }

  /**
   * Delivers items of `kind` with `send` (for durable work that is not a write to GitHub): they
   * are stored, claimed, retried with backoff and taken up after a restart like any other item.
   * `send` throws to be retried; it returns once the item needs nothing more. It must be safe to
   * run again: a gateway that stalled past its lease may still be running it when another takes
   * the item over (no write guard holds these back, as it does writes to GitHub).
   */
  handle(kind: string, send: (item: OutboxItem) => Promise<void>): void {
    this.sender.handlers.set(kind, send);
  }

  // ---- delivery loop ----------------------------------------------------------------------

  /** Starts delivering in the background; items left in flight by a previous process go first. */
  async start(): Promise<void> {
    if (this.running) return;
    await this.db.outbox.resetInterrupted();
    this.running = true;
    this.loop = this.run();
  }

  /** Stops after the items in flight; unsent items stay stored for the next start. */
  async stop(): Promise<void> {
    this.running = false;
    this.poke();
    await this.loop;
  }

  /** Tells the loop that something was enqueued. */
  poke(): void {
    const w = this.wake;
    this.wake = undefined;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    w?.();
  }

  private async run(): Promise<void> {
    while (this.running) {
      let wait: number;
      try {
        // After a store failure, items it left claimed are taken up again (none is in flight).
        if (this.storeBackoff.streak > 0) await this.db.outbox.resetInterrupted();
        await this.deliverDue();
        if (!this.running) break;
        const now = this.now();
        const due = await this.db.outbox.nextDueAt();
        this.storeBackoff.succeeded();
        const at = Math.max(due ?? now + 1000, this.pausedUntil);
        // Poll at least every second as well: an enqueue from another module may not poke. An
        // item due but not claimed waits behind an older one of its ordering key, or for its
        // installation's items in flight (on any gateway): look again shortly rather than spinning.
        wait = Math.min(Math.max(BLOCKED_POLL_MS, at - now), 1000);
      } catch (e) {
        // The store failed (claiming, or recording an outcome): pause, then go on.
        wait = this.storeBackoff.failed();
        this.opts.log?.error(
          { pauseMs: wait, failures: this.storeBackoff.streak },
          `the outbox's store failed, delivery pauses: ${e instanceof Error ? e.message : String(e)}`,
        );
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        this.timer = setTimeout(resolve, wait);
      });
    }
  }

  /** Sends every item that is due now (several ordering keys at once); returns how many ran. */
  async deliverDue(): Promise<number> {
    // Another gateway may have met the rate limit; a store that cannot answer pauses nothing.
    const shared = await this.db.pauses.until(PAUSE).catch(() => 0);
    this.pausedUntil = Math.max(this.pausedUntil, shared);
    let count = 0;
    const worker = async () => {
      for (;;) {
        if (this.pausedUntil > this.now()) return;
        const item = await this.db.outbox.claimNext(this.now(), this.perInstallation);
        if (!item) return;
        count++;
        await this.deliver(item);
      }
    };
    // Every worker ends before a failure is passed on: none is left delivering behind it.
    const ends = await Promise.allSettled(Array.from({ length: this.concurrency }, worker));
    const failed = ends.find((e) => e.status === "rejected");
    if (failed) throw failed.reason;
    return count;
  }

  /** Sends one claimed item and records the outcome. */
  async deliver(item: OutboxItem): Promise<void> {
    try {
      await this.sender.send(item);
      await this.db.outbox.complete(item.seq, this.now());
    } catch (e) {
      if (e instanceof ClaimLost) {
        // The gateway that took it over settles it; nothing here to record.
        this.opts.log?.warn({ seq: item.seq, kind: item.kind, repo: item.repo }, e.message);
        return;
      }
      await this.onFailure(item, e);
    }
  }

  private async onFailure(item: OutboxItem, e: unknown): Promise<void> {
    const now = this.now();
    const o = afterFailure(this.retry, item, e, now);
    const about = { seq: item.seq, kind: item.kind, repo: item.repo };
    if (o.give === "up") {
      if (o.refused) this.opts.log?.error(about, o.error);
      await this.db.outbox.fail(item.seq, o.error, now);
      return;
    }
    if (o.rateLimited) {
      this.pausedUntil = Math.max(this.pausedUntil, now + o.delayMs);
      await this.db.pauses.extend(PAUSE, this.pausedUntil, o.error, now).catch(() => {});
    }
    this.opts.log?.warn({ ...about, attempts: item.attempts, delayMs: o.delayMs }, o.error);
    await this.db.outbox.retryLater(item.seq, now + o.delayMs, o.error);
  }
}
