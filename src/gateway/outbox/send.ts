// Sends one claimed item to GitHub (or to the handler of its kind), apart from the loop that
// claims and retries it: here live the rules that make a write safe to repeat (a comment's marker,
// a check run created once and looked up after a lost answer, statuses where checks are refused).
import { type CheckRunState, type Forge, ForgeError, repoRef } from "../../forge/types.js";
import type { CheckRunRecord, OutboxItem, Store } from "../../store/index.js";
import { type OutboxMessage, statusFromCheck } from "./messages.js";

export interface SenderOptions {
  /** The forge as one installation sees it. */
  forgeFor: (installationId: number) => Forge;
  /** The app's id, to find its own check runs when a create's answer was lost. */
  appId?: number | undefined;
  /** The forge client's request timeout: how long after it was sent a write may still land. */
  requestTimeoutMs: number;
  now: () => number;
  warn?: ((obj: Record<string, unknown>, msg: string) => void) | undefined;
}

/**
 * This gateway stalled past its lease and another took the item over: the write was not sent, and
 * the item is the other gateway's to settle.
 */
export class ClaimLost extends Error {
  constructor(item: OutboxItem) {
    super(
      `outbox item ${item.seq} (${item.kind}) was taken over by another gateway while this one stalled past its lease: not sent from here`,
    );
  }
}

export class Sender {
  /** Repositories whose installation refused checks: statuses are sent instead. */
  private readonly statusOnly = new Set<string>();
  /** Senders of items that are not writes to GitHub (see `Outbox.handle`). */
  readonly handlers = new Map<string, (item: OutboxItem) => Promise<void>>();

  constructor(
    private readonly db: Store,
    private readonly opts: SenderOptions,
  ) {}

  /**
   * Called right before an item's writes (to the check's record, then GitHub): the item must still
   * be this gateway's, since a lease fences writes to the store but not a request already sent.
   * Another gateway may take the item over only once the write cannot land any more: when it had
   * a whole lease time to leave (a stall past that is what a takeover needs) and then the request
   * timeout to be answered. One taking it over then finds what it did (check runs are looked up).
   */
  private async guard(item: OutboxItem): Promise<void> {
    const now = this.opts.now();
    const until = now + this.db.leases.ttlMs + this.opts.requestTimeoutMs;
    if (!(await this.db.outbox.guardWrite(item.seq, until, now))) {
      throw new ClaimLost(item);
    }
  }

  /** Sends the item; throws what GitHub (or the handler) answered when it failed. */
  async send(item: OutboxItem): Promise<void> {
    // Items that are not writes to GitHub are safe to send again: a sweep looks at what still
    // runs before it stops anything, and a notification is sent at least once.
    const handler = this.handlers.get(item.kind);
    if (handler) return handler(item);
    const gh = this.opts.forgeFor(item.installationId);
    const repo = repoRef(item.repo);
    const msg = item.payload as OutboxMessage;
    switch (msg.kind) {
      case "check_run":
        return this.sendCheckRun(gh, item, msg.state, msg.reopens === true);
      case "status":
        await this.guard(item);
        return gh.createStatus(repo, msg.sha, msg.status);
      case "comment": {
        // An earlier attempt may have posted it and lost the answer: look for its marker.
        if (item.attempts > 1) {
          const since = new Date(item.createdAt - 60_000).toISOString();
          const marker = msg.body.slice(msg.body.lastIndexOf("<!-- airlock:"));
          const existing = await gh.commentsSince(repo, msg.issue, since);
          if (existing.some((c) => c.body?.includes(marker))) return;
        }
        await this.guard(item);
        await gh.createComment(repo, msg.issue, msg.body);
        return;
      }
      case "remove_label":
        await this.guard(item);
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
  private async sendCheckRun(gh: Forge, item: OutboxItem, state: CheckRunState, reopens: boolean) {
    const fullName = item.repo;
    const repo = repoRef(fullName);
    const { head_sha: sha, name } = state;
    const rec = await this.db.checkRuns.get(fullName, sha, name);
    const record = (r: Omit<CheckRunRecord, "seq">) =>
      this.db.checkRuns.set(fullName, sha, name, { ...r, seq: item.seq }, this.opts.now());
    if (rec?.via === "status" || this.statusOnly.has(fullName)) {
      await this.guard(item);
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
        (state.status !== "completed" || reopens);
      if (rerun) {
        replaces = id;
        id = null;
      }
      // GitHub lists the newest first: that one is the lost create's, unless it is the run that
      // create replaces (then the create never arrived).
      const [lost] =
        !rerun && id === null && rec
          ? await gh.checkRunsNamed(repo, sha, name, this.opts.appId)
          : [];
      // Before anything is written (to the record or to GitHub).
      await this.guard(item);
      if (lost && lost.id !== replaces) {
        id = lost.id;
        await record({ id, via: "checks", status: lost.status });
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
        this.opts.warn?.({ repo: fullName }, "checks refused (403): sending commit statuses");
        await this.guard(item);
        await gh.createStatus(repo, sha, statusFromCheck(state));
        await record({ id: null, via: "status", status: state.status });
        return;
      }
      throw e;
    }
  }
}
