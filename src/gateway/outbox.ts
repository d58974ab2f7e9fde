// Delivers the outbox to GitHub: each stored write is sent, retried with exponential backoff and
// jitter, and paused for as long as GitHub asks (Retry-After, an exhausted rate limit). Check runs
// are created once and then updated in place, and created anew when a completed one runs again;
// where checks are refused, commit statuses stand in.
import { createHash, randomUUID } from "node:crypto";
import {
  type CheckRunState,
  type CommitStatus,
  type Forge,
  ForgeError,
  repoRef,
  type StatusState,
} from "../forge/types.js";
import type { CheckRunRecord, NewOutboxItem, OutboxItem, Store } from "../store/index.js";
import { StoreBackoff } from "./backoff.js";

export type OutboxMessage =
  | {
      kind: "check_run";
      state: CheckRunState;
      /** It stands in for an unsent state that was not completed: it reopens the check. */
      reopens?: boolean;
    }
  | { kind: "status"; sha: string; status: CommitStatus }
  | { kind: "comment"; issue: number; body: string }
  | { kind: "remove_label"; issue: number; label: string };

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
  /** Items sent at the same time (different ordering keys only). */
  concurrency?: number;
  /** The first pause after a store failure, doubled at each failure in a row (default 100 ms). */
  storeBackoffMs?: number;
  now?: () => number;
  random?: () => number;
  log?: OutboxLogger;
}

const STATUS_DESCRIPTION_MAX = 140;

/** The shared pause of the App's writes. */
const PAUSE = "github";
/** How soon a gateway looks again for a due item held back behind another gateway's. */
const BLOCKED_POLL_MS = 50;

/** A marker hidden in each comment, so a retried post can tell that the first one arrived. */
export const commentMarker = (key: string) =>
  `<!-- airlock:${createHash("sha256").update(key).digest("hex").slice(0, 24)} -->`;

/** The commit status that stands in for a check run where checks are not permitted. */
export function statusFromCheck(state: CheckRunState): CommitStatus {
  let s: StatusState = "pending";
  if (state.status === "completed") {
    const c = state.conclusion;
    s =
      c === "success" || c === "neutral" || c === "skipped"
        ? "success"
        : c === "cancelled"
          ? "error"
          : "failure";
  }
  const title = state.output?.title ?? state.status.replace("_", " ");
  const description =
    title.length > STATUS_DESCRIPTION_MAX
      ? `${title.slice(0, STATUS_DESCRIPTION_MAX - 1)}…`
      : title;
  return {
    state: s,
    context: state.name,
    description,
    ...(state.details_url ? { target_url: state.details_url } : {}),
  };
}

/** The item of a comment posted once per key (stored by `Outbox.comment`, or in a transaction). */
export function commentItem(
  repo: string,
  installationId: number,
  issue: number,
  body: string,
  key: string,
): NewOutboxItem {
  const k = `comment:${key}`;
  return {
    kind: "comment",
    key: k,
    orderingKey: k,
    repo,
    installationId,
    payload: {
      kind: "comment",
      issue,
      body: `${body}\n\n${commentMarker(k)}`,
    } satisfies OutboxMessage,
  };
}

export class Outbox {
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly rateLimitDelayMs: number;
  private readonly deadlineMs: number;
  private readonly concurrency: number;
  private readonly now: () => number;
  private readonly random: () => number;
  /** Repositories whose installation refused checks: statuses are sent instead. */
  private readonly statusOnly = new Set<string>();
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
  /** Senders of items that are not writes to GitHub (see `handle`). */
  private readonly handlers = new Map<string, (item: OutboxItem) => Promise<void>>();

  constructor(
    /** Where items are stored (and, for enqueues inside a transaction, pass that transaction). */
    readonly db: Store,
    private readonly opts: OutboxOptions,
  ) {
    this.baseDelayMs = opts.baseDelayMs ?? 1000;
    this.maxDelayMs = opts.maxDelayMs ?? 15 * 60_000;
    this.rateLimitDelayMs = opts.rateLimitDelayMs ?? 60_000;
    this.deadlineMs = opts.deadlineMs ?? 3 * 24 * 3600_000;
    this.concurrency = opts.concurrency ?? 4;
    this.now = opts.now ?? Date.now;
    this.random = opts.random ?? Math.random;
    this.storeBackoff = new StoreBackoff(
      opts.storeBackoffMs ?? 100,
      Math.min(30_000, this.maxDelayMs),
    );
  }

  // ---- enqueueing -------------------------------------------------------------------------

  /**
   * The next full state of a check run. Older unsent states of the same check are superseded.
   * `onlyIf` decides, at the moment of storing, whether the state is still the caller's to send.
   */
  checkRun(
    repo: string,
    installationId: number,
    state: CheckRunState,
    key = randomUUID(),
    onlyIf?: (tx: Store) => Promise<boolean>,
  ) {
    return this.db.outbox.enqueue(
      {
        kind: "check_run",
        key: `check_run:${key}`,
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
      onlyIf,
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

  removeLabel(repo: string, installationId: number, issue: number, label: string, key: string) {
    return this.db.outbox.enqueue({
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
   * `send` throws to be retried; it returns once the item needs nothing more.
   */
  handle(kind: string, send: (item: OutboxItem) => Promise<void>): void {
    this.handlers.set(kind, send);
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
        // item due but not claimed waits behind an older one of its ordering key that another
        // gateway holds: look again shortly rather than spinning on the claim.
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
        const item = await this.db.outbox.claimNext(this.now());
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
      await this.send(item);
      await this.db.outbox.complete(item.seq, this.now());
    } catch (e) {
      await this.onFailure(item, e);
    }
  }

  private async onFailure(item: OutboxItem, e: unknown): Promise<void> {
    const now = this.now();
    const message = e instanceof Error ? e.message : String(e);
    const gh = e instanceof ForgeError ? e : undefined;
    const retryable = gh ? gh.transient || gh.status === 401 : true;
    if (!retryable) {
      this.opts.log?.error({ seq: item.seq, kind: item.kind, repo: item.repo }, message);
      await this.db.outbox.fail(item.seq, message, now);
      return;
    }
    if (now - item.createdAt > this.deadlineMs) {
      await this.db.outbox.fail(
        item.seq,
        `gave up after ${item.attempts} attempts: ${message}`,
        now,
      );
      return;
    }
    let delay: number;
    if (gh?.rateLimited) {
      delay = gh.retryAfterMs ?? this.rateLimitDelayMs;
      this.pausedUntil = Math.max(this.pausedUntil, now + delay);
      await this.db.pauses.extend(PAUSE, this.pausedUntil, message, now).catch(() => {});
    } else if (gh?.retryAfterMs !== undefined) {
      delay = gh.retryAfterMs;
    } else {
      delay = this.backoff(item.attempts);
    }
    this.opts.log?.warn(
      { seq: item.seq, kind: item.kind, repo: item.repo, attempts: item.attempts, delayMs: delay },
      message,
    );
    await this.db.outbox.retryLater(item.seq, now + delay, message);
  }

  /** Exponential backoff with "equal jitter": half the step fixed, half random. */
  backoff(attempts: number): number {
    const step = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** Math.max(0, attempts - 1));
    return Math.round(step / 2 + this.random() * (step / 2));
  }

  // ---- sending ----------------------------------------------------------------------------

  private async send(item: OutboxItem): Promise<void> {
    const handler = this.handlers.get(item.kind);
    if (handler) return handler(item);
    const gh = this.opts.forgeFor(item.installationId);
    const repo = repoRef(item.repo);
    const msg = item.payload as OutboxMessage;
    switch (msg.kind) {
      case "check_run":
        return this.sendCheckRun(gh, item, msg);
      case "status":
        return gh.createStatus(repo, msg.sha, msg.status);
      case "comment": {
        // An earlier attempt may have posted it and lost the answer: look for its marker.
        if (item.attempts > 1) {
          const since = new Date(item.createdAt - 60_000).toISOString();
          const marker = msg.body.slice(msg.body.lastIndexOf("<!-- airlock:"));
          const existing = await gh.commentsSince(repo, msg.issue, since);
          if (existing.some((c) => c.body?.includes(marker))) return;
        }
        await gh.createComment(repo, msg.issue, msg.body);
        return;
      }
      case "remove_label":
        return gh.removeLabel(repo, msg.issue, msg.label);
      default:
        throw new Error(`unknown outbox item kind ${(msg as { kind: string }).kind}`);
    }
  }

  /**
   * Creates the check run once and updates it afterwards. A create whose answer was lost (the
   * process died, or GitHub answered 5xx) left a record without an id: the check is then looked up
   * by name on the commit before another create is sent.
   *
   * A check that was completed and is opened again (the job runs again on the same commit) gets a
   * new check run: GitHub shows the newest of each name, and may keep showing a completed run's old
   * conclusion while it runs again. The record keeps the replaced run's id while that create is in
   * flight, so that a lookup after a lost answer cannot take the old run for the new one.
   */
  private async sendCheckRun(
    gh: Forge,
    item: OutboxItem,
    msg: Extract<OutboxMessage, { kind: "check_run" }>,
  ) {
    const fullName = item.repo;
    const { state } = msg;
    const repo = repoRef(fullName);
    const { head_sha: sha, name } = state;
    const rec = await this.db.checkRuns.get(fullName, sha, name);
    const record = (r: Omit<CheckRunRecord, "seq">) =>
      this.db.checkRuns.set(fullName, sha, name, { ...r, seq: item.seq }, this.now());
    if (rec?.via === "status" || this.statusOnly.has(fullName)) {
      await gh.createStatus(repo, sha, statusFromCheck(state));
      await record({ id: rec?.id ?? null, via: "status", status: state.status });
      return;
    }
    try {
      let id = rec?.id ?? null;
      let replaces = rec?.replaces ?? null;
      // This item's own retry after it was delivered is not a re-run.
      const rerun =
        id !== null &&
        rec?.status === "completed" &&
        rec.seq !== item.seq &&
        (state.status !== "completed" || msg.reopens === true);
      if (rerun) {
        replaces = id;
        id = null;
      } else if (id === null && rec) {
        // GitHub lists the newest first: that one is the lost create's, unless it is the run
        // that create replaces (then the create never arrived).
        const [newest] = await gh.checkRunsNamed(repo, sha, name, this.opts.appId);
        if (newest && newest.id !== replaces) {
          id = newest.id;
          await record({ id, via: "checks", status: newest.status });
        }
      }
      if (id !== null) {
        await gh.updateCheckRun(repo, id, state);
        await record({ id, via: "checks", status: state.status });
        return;
      }
      await record({ id: null, via: "checks", status: rec?.status ?? null, replaces });
      const created = await gh.createCheckRun(repo, state);
      await record({ id: created.id, via: "checks", status: state.status });
    } catch (e) {
      // 403 that is not a rate limit: the installation may not write checks. Fall back to statuses.
      if (e instanceof ForgeError && e.status === 403 && !e.rateLimited) {
        this.statusOnly.add(fullName);
        this.opts.log?.warn({ repo: fullName }, "checks refused (403): sending commit statuses");
        await gh.createStatus(repo, sha, statusFromCheck(state));
        await record({ id: null, via: "status", status: state.status });
        return;
      }
      throw e;
    }
  }
}
