// The gateway's job slots: at most `jobs` jobs at once, every run together, and of those at most
// `publicJobsPerPr` public jobs of one pull request and `publicJobsPerAuthor` of one author, so
// that one outsider opening many pull requests cannot take every slot. A job past its share waits,
// still queued, for one of its own to end; jobs that fit are not held up behind it.
import type { RunRequestRow } from "../store/index.js";

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

  constructor(readonly limits: ShareLimits) {}

  /**
   * Resolves with the slot's release once the job may start, or with null when `signal` aborted
   * first. Waiters are served in order, skipping those whose share is still full.
   */
  acquire(holder: SlotHolder, signal: AbortSignal): Promise<(() => void) | null> {
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
