// Starts queued run requests (a bounded number at once, every gateway sharing the store together,
// each pull request's and author's fair share checked in the claim itself), tracks the runs in
// flight so that a new push, `/cancel` or a closed PR can stop them, and hands requests a dead
// process left running (at start-up, and whenever the lease of another gateway's request runs out)
// to `recover`. A request whose execution throws is settled here (taken up again after a pause, up
// to maxAttempts, then ended), so that it does not stay "running" until a restart.
import { isShutdown, ShutdownAbort } from "../executors/abort.js";
import {
  type ClaimRules,
  newRequestId,
  type RunRequestQueue,
  type RunRequestRow,
} from "../store/index.js";

export interface SupervisorOptions {
  requests: RunRequestQueue;
  /** Runs one claimed request to its end (or until `signal` aborts). */
  execute(req: RunRequestRow, signal: AbortSignal): Promise<void>;
  /** A request left running by a process that died (this one's last life, or another gateway). */
  recover(req: RunRequestRow): Promise<void>;
  /**
   * Runs at once on every gateway sharing the store, this one's among them (each runs its jobs with
   * its own concurrency).
   */
  maxRuns?: number;
  /**
   * A queued request that should stay queued for now (its fair share is in use), given the runs in
   * flight on every gateway; it is skipped. Decided in the claim's own step.
   */
  holds?(req: RunRequestRow, inFlight: RunRequestRow[]): boolean;
  pollMs?: number;
  onError?(message: string, req: RunRequestRow): void;
  /**
   * Attempts in all for a request whose execution throws (default 3); a shutdown or a gateway dying
   * under it does not count.
   */
  maxAttempts?: number;
  /** The pause before a failed request is taken up again, doubled at each attempt. */
  retryDelayMs?: number;
  /**
   * Settles a failed execution by calling `settle` (taken up again, given up or cancelled) with the
   * requests of the transaction that reports it; by default `settle` is called alone.
   */
  failed?(req: RunRequestRow, settle: (requests: RunRequestQueue) => Promise<void>): Promise<void>;
}

interface InFlight {
  req: RunRequestRow;
  ctrl: AbortController;
  done: Promise<void>;
}

export class Supervisor {
  private readonly inFlight = new Map<string, InFlight>();
  private readonly maxRuns: number;
  private readonly pollMs: number;
  private readonly maxAttempts: number;
  private readonly retryDelayMs: number;
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  private pumping: Promise<void> | undefined;
  private again = false;
  private idleWaiters: (() => void)[] = [];
  /** What a claim checks, against the runs in flight on every gateway sharing the store. */
  private readonly rules: ClaimRules;

  constructor(private readonly opts: SupervisorOptions) {
    this.maxRuns = opts.maxRuns ?? 2;
    this.pollMs = opts.pollMs ?? 500;
    this.maxAttempts = opts.maxAttempts ?? 3;
    this.retryDelayMs = opts.retryDelayMs ?? 2000;
    this.rules = { running: this.maxRuns, ...(opts.holds ? { holds: opts.holds } : {}) };
  }

  async start(): Promise<void> {
    if (this.running) return;
    await this.opts.requests.resetInterrupted();
    await this.adopt();
    this.running = true;
    this.schedule(0);
  }

  /** Aborts the runs in flight that another gateway (or this one) asked to stop in the store. */
  private async stopAsked(): Promise<void> {
    if (this.inFlight.size === 0) return;
    for (const s of await this.opts.requests.stopsAsked([...this.inFlight.keys()])) {
      const f = this.inFlight.get(s.id);
      if (f && !f.ctrl.signal.aborted) f.ctrl.abort(s.reason);
    }
  }

  /** Recovers the requests whose holder died (their leases ran out). */
  private async adopt(): Promise<void> {
    for (const req of await this.opts.requests.adoptAbandoned()) {
      try {
        await this.opts.recover(req);
      } catch (e) {
        this.opts.onError?.(e instanceof Error ? e.message : String(e), req);
      }
    }
  }

  /**
   * Aborts the runs in flight with a ShutdownAbort (they are taken up again after a restart, and
   * what runs outside Airlock is left running) and stops starting more.
   */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    for (const f of this.inFlight.values()) f.ctrl.abort(new ShutdownAbort());
    await this.pumping;
    await Promise.all([...this.inFlight.values()].map((f) => f.done));
  }

  /** Something was queued: look now. */
  poke(): void {
    if (this.running) this.schedule(0);
  }

  /** Aborts the runs in flight that match; returns how many. */
  cancel(match: (req: RunRequestRow) => boolean, reason: string): number {
    let n = 0;
    for (const f of this.inFlight.values()) {
      if (match(f.req) && !f.ctrl.signal.aborted) {
        f.ctrl.abort(reason);
        n++;
      }
    }
    return n;
  }

  /** Requests in flight (for tests and the console). */
  active(): RunRequestRow[] {
    return [...this.inFlight.values()].map((f) => f.req);
  }

  /** Resolves when nothing is queued or running. */
  idle(): Promise<void> {
    return new Promise((resolve) => {
      this.idleWaiters.push(resolve);
      this.poke();
      void this.checkIdle();
    });
  }

  private schedule(ms: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      // One pump at a time, so that the limit on runs holds.
      if (this.pumping) {
        this.again = true;
        return;
      }
      this.pumping = this.pump().finally(() => {
        this.pumping = undefined;
        const again = this.again;
        this.again = false;
        if (this.running) this.schedule(again ? 0 : this.pollMs);
      });
    }, ms);
  }

  private async pump(): Promise<void> {
    // A store that fails now is asked again at the next poll (DESIGN.md invariant 11).
    await this.adopt().catch(() => {});
    await this.stopAsked().catch(() => {});
    while (this.running && this.inFlight.size < this.maxRuns) {
      const req = await this.opts.requests.claimNext(Date.now(), this.rules).catch(() => undefined);
      if (!req) break;
      const ctrl = new AbortController();
      const done = this.opts
        .execute(req, ctrl.signal)
        .catch((e) => this.settleFailed(req, e, ctrl.signal))
        .catch((e) => this.opts.onError?.(e instanceof Error ? e.message : String(e), req))
        .finally(() => {
          this.inFlight.delete(req.id);
          this.poke();
          void this.checkIdle();
        });
      this.inFlight.set(req.id, { req, ctrl, done });
    }
    void this.checkIdle();
  }

  /**
   * An execution that threw (a GitHub API error, a failed fetch): the request is taken up again
   * after a pause, or ended once it had its attempts. A shutdown leaves it running, to be
   * recovered at the next start like an interrupted one.
   */
  private async settleFailed(req: RunRequestRow, e: unknown, signal: AbortSignal): Promise<void> {
    const message = e instanceof Error ? e.message : String(e);
    this.opts.onError?.(message, req);
    const retry = (await this.opts.requests.attemptsSpent(req)) < this.maxAttempts;
    if (retry && !signal.aborted) {
      const ms = this.retryDelayMs * 2 ** (req.attempt - 1);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, ms);
        const stop = () => {
          clearTimeout(t);
          resolve();
        };
        signal.addEventListener("abort", stop, { once: true });
      });
    }
    if (isShutdown(signal)) return;
    // execute may have settled the request itself before it threw.
    if ((await this.opts.requests.get(req.id))?.state !== "running") return;
    const why = `failed: ${message}`.slice(0, 500);
    const settle = async (requests: RunRequestQueue) => {
      if (signal.aborted) await requests.finish(req.id, "cancelled", String(signal.reason));
      else if (retry) await requests.requeue(req, newRequestId(), Date.now(), why);
      else await requests.finish(req.id, "done", why);
    };
    if (this.opts.failed) await this.opts.failed(req, settle);
    else await settle(this.opts.requests);
  }

  private async checkIdle(): Promise<void> {
    if (this.idleWaiters.length === 0 || this.inFlight.size > 0) return;
    const queued = await this.opts.requests.inState("queued").catch(() => [null]);
    if (queued.length > 0 || this.inFlight.size > 0) return;
    for (const w of this.idleWaiters.splice(0)) w();
  }
}
