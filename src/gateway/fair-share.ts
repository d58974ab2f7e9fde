// The gateway's job slots: at most `jobs` jobs at once, every run together, and of those at most
// `publicJobsPerPr` public jobs of one pull request and `publicJobsPerAuthor` of one author, so
// that one outsider opening many pull requests cannot take every slot. A job past its share waits,
// still queued, for one of its own to end; jobs that fit are not held up behind it. With the
// store's places (JobSlotRepo), a public job's share is that of every gateway on the database
// together: it first takes its place there (looking again while its share is full), then a slot
// here. `jobs` stays each gateway's own: it sizes the machine's cores and memory.
import type { JobSlotRepo, RunRequestRow } from "../store/index.js";

export interface ShareLimits {
  jobs: number;
  publicJobsPerPr: number;
  publicJobsPerAuthor: number;
}

/** Whose job asks for a slot. */
export interface SlotHolder {
  /** "owner/repo#number". */
  pr: string;
  author: string;
  /** Public jobs count towards their pull request's and author's share; every job towards `jobs`. */
  public: boolean;
  /** The job, for its place in the store's share. */
  job?: { runId: string; jobId: string };
}

/** The share held in the store, for every gateway on it. */
export interface SharedSlots {
  slots: JobSlotRepo;
  /** How often a job whose share is full looks again (default 500 ms). */
  pollMs?: number;
  /** A store failure while looking (the job looks again later). */
  onError?: (e: unknown) => void;
}

interface Waiter {
  holder: SlotHolder;
  grant(release: () => void): void;
}

export const prKey = (repo: string, pr: number) => `${repo}#${pr}`;

export class FairShare {
  #running = 0;
  readonly #byPr = new Map<string, number>();
  readonly #byAuthor = new Map<string, number>();
  readonly #waiting: Waiter[] = [];
  /** Jobs waiting for their place in the store's share: woken when a job here ends. */
  readonly #looking = new Set<() => void>();

  constructor(
    readonly limits: ShareLimits,
    private readonly shared?: SharedSlots,
  ) {}

  /**
   * Resolves with the slot's release once the job may start, or with null when `signal` aborted
   * first. Waiters are served in order, skipping those whose share is still full.
   */
  acquire(holder: SlotHolder, signal: AbortSignal): Promise<(() => void) | null> {
    if (this.shared && holder.public && holder.job) {
      return this.#acquireShared(this.shared, holder, holder.job, signal);
    }
    return this.#acquireHere(holder, signal);
  }

  async #acquireShared(
    shared: SharedSlots,
    holder: SlotHolder,
    job: { runId: string; jobId: string },
    signal: AbortSignal,
  ): Promise<(() => void) | null> {
    const slot = { ...job, pr: holder.pr, author: holder.author };
    const limits = {
      perPr: this.limits.publicJobsPerPr,
      perAuthor: this.limits.publicJobsPerAuthor,
    };
    for (;;) {
      if (signal.aborted) return null;
      const taken = await shared.slots.take(slot, limits).catch((e: unknown) => {
        shared.onError?.(e);
        return false;
      });
      if (taken) break;
      await this.#lookAgain(shared.pollMs ?? 500, signal);
    }
    const here = await this.#acquireHere(holder, signal);
    // Released when the job ends; a release that fails stops counting when the run ends.
    const release = () => {
      void shared.slots.release(job.runId, job.jobId).catch((e: unknown) => shared.onError?.(e));
      for (const wake of this.#looking) wake();
    };
    if (!here) {
      release();
      return null;
    }
    return () => {
      here();
      release();
    };
  }

  /** Waits `ms`, or less when a job here ends or `signal` aborts. */
  #lookAgain(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#looking.delete(done);
        signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#looking.add(done);
      signal.addEventListener("abort", done, { once: true });
    });
  }

  #acquireHere(holder: SlotHolder, signal: AbortSignal): Promise<(() => void) | null> {
    if (signal.aborted) return Promise.resolve(null);
    if (this.#waiting.length === 0 && this.#fits(holder)) {
      return Promise.resolve(this.#take(holder));
    }
    return new Promise((resolve) => {
      const w: Waiter = {
        holder,
        grant: (release) => {
          signal.removeEventListener("abort", onAbort);
          resolve(release);
        },
      };
      const onAbort = () => {
        const i = this.#waiting.indexOf(w);
        if (i >= 0) this.#waiting.splice(i, 1);
        resolve(null);
        // Those behind it may fit now.
        this.#serve();
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.#waiting.push(w);
      this.#serve();
    });
  }

  /**
   * Whether a queued run with public jobs should stay queued: its author or pull request already
   * has as many such runs in flight as public jobs allowed (each runs at least one), so claiming
   * it would only hold a run slot that others could use.
   */
  holds(req: Pick<RunRequestRow, "repo" | "pr" | "author" | "kind">, inFlight: RunRequestRow[]) {
    if (!hasPublicJobs(req)) return false;
    const pub = inFlight.filter(hasPublicJobs);
    const pr = prKey(req.repo, req.pr);
    return (
      pub.filter((r) => prKey(r.repo, r.pr) === pr).length >= this.limits.publicJobsPerPr ||
      pub.filter((r) => r.author === req.author).length >= this.limits.publicJobsPerAuthor
    );
  }

  /** Jobs running, and public jobs running by pull request and by author (for tests and metrics). */
  usage(): { jobs: number; byPr: Map<string, number>; byAuthor: Map<string, number> } {
    return { jobs: this.#running, byPr: new Map(this.#byPr), byAuthor: new Map(this.#byAuthor) };
  }

  #fits(h: SlotHolder): boolean {
    if (this.#running >= this.limits.jobs) return false;
    if (!h.public) return true;
    return (
      (this.#byPr.get(h.pr) ?? 0) < this.limits.publicJobsPerPr &&
      (this.#byAuthor.get(h.author) ?? 0) < this.limits.publicJobsPerAuthor
    );
  }

  #take(h: SlotHolder): () => void {
    this.#running++;
    if (h.public) {
      bump(this.#byPr, h.pr, 1);
      bump(this.#byAuthor, h.author, 1);
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#running--;
      if (h.public) {
        bump(this.#byPr, h.pr, -1);
        bump(this.#byAuthor, h.author, -1);
      }
      this.#serve();
    };
  }

  #serve(): void {
    for (let i = 0; i < this.#waiting.length && this.#running < this.limits.jobs; ) {
      const w = this.#waiting[i]!;
      if (!this.#fits(w.holder)) {
        i++;
        continue;
      }
      this.#waiting.splice(i, 1);
      w.grant(this.#take(w.holder));
    }
  }
}

/** Every kind of run but a restricted-only one runs public jobs. */
const hasPublicJobs = (r: Pick<RunRequestRow, "kind">) => r.kind !== "restricted";

function bump(m: Map<string, number>, key: string, by: number): void {
  const n = (m.get(key) ?? 0) + by;
  if (n > 0) m.set(key, n);
  else m.delete(key);
}
