// Run requests: the queue of runs to start, settled once they end. Part of the Store interface
// (../types.ts).
import type { Store } from "../types.js";

/**
 * public: the public jobs only. full: public jobs and the selected restricted jobs.
 * restricted: the selected restricted jobs and what they need (public jobs already ran).
 * rerun: named jobs (/retest, a re-requested check) and what they need.
 */
export type RunKind = "public" | "full" | "restricted" | "rerun";

export type RequestState = "queued" | "running" | "done" | "cancelled";

export interface RequestSelection {
  labels?: string[];
  jobs?: string[];
  /**
   * Requested under a bot's scope (trust.bots), not a full authorization: only the restricted
   * jobs it covers run, and an approval later still asks for a run of the rest.
   */
  scope?: string;
}

/** Why an attempt ended without spending one: Airlock was stopped, or its gateway died. */
export type Interruption = "shutdown" | "lost";

export interface RunRequestRow {
  id: string;
  repo: string;
  pr: number;
  installationId: number;
  headSha: string;
  baseSha: string;
  headRef: string;
  /** Login of the PR's author (authorization is re-checked when the run starts). */
  author: string;
  kind: RunKind;
  /** null: every job of its kind (an unfiltered run, what the gate needs). */
  selection: RequestSelection | null;
  requestedBy: string;
  state: RequestState;
  attempt: number;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  note: string | null;
  /** Why a gateway asked the one running it to stop it (askToStop); null when none did. */
  stopReason?: string | null;
}

export type NewRunRequest = Omit<
  RunRequestRow,
  "state" | "attempt" | "createdAt" | "startedAt" | "finishedAt" | "note" | "stopReason"
> & {
  attempt?: number;
  note?: string | null;
  /** A request taken up again keeps the time, and so the place, of the one it continues. */
  createdAt?: number;
};

/** A public job's place in its pull request's and author's fair share. */
export interface JobSlot {
  runId: string;
  jobId: string;
  /** "owner/repo#number". */
  pr: string;
  author: string;
}

/**
 * Public jobs' places in the fair share, counted across every gateway on the database. A place
 * counts while its run's request runs under a live claim: a dead gateway's stop counting when its
 * lease runs out, and a run taken up again runs under a new request.
 */
export interface JobSlotRepo {
  /**
   * Takes the job's place if its pull request has fewer than `perPr` places and its author fewer
   * than `perAuthor`; whether it holds one now (a place already held counts as taken).
   */
  take(slot: JobSlot, limits: { perPr: number; perAuthor: number }, now?: number): Promise<boolean>;
  release(runId: string, jobId: string): Promise<void>;
}

/** What a claim of a run request must respect (RunRequestQueue.claimNext). */
export interface ClaimRules {
  /** Claims nothing while this many requests are running on every gateway together. */
  running?: number;
  /** A queued request that stays queued, given those running on every gateway (its fair share). */
  holds?(req: RunRequestRow, running: RunRequestRow[]): boolean;
}

/** Called inside the transaction that ends a request, with that transaction. */
export type SettledListener = (req: RunRequestRow, tx: Store) => Promise<void>;

/**
 * The gateway's run queue. Requests are ordered by `createdAt`, then `attempt`: every new request
 * gets a time of its own (later than all before it), and a request taken up again keeps the time
 * of the one it continues, so an old request's retry never counts as newer than a later request.
 */
export interface RunRequestQueue {
  insert(req: NewRunRequest, now?: number): Promise<void>;
  /** Cancels queued requests of a PR (all, or those for other commits than `keepSha`). */
  cancelQueued(
    repo: string,
    pr: number,
    note: string,
    keepSha?: string,
    now?: number,
  ): Promise<number>;
  /**
   * Asks whichever gateway runs them to stop the PR's running requests (all, those not on
   * `keepSha`, or only those that run restricted jobs); how many were asked.
   */
  askToStop(
    repo: string,
    pr: number,
    reason: string,
    o?: { keepSha?: string; restrictedOnly?: boolean },
  ): Promise<number>;
  /**
   * Of these requests (this gateway's runs in flight), those asked to stop, and those another
   * gateway took over (this one stalled past its lease), with why.
   */
  stopsAsked(ids: string[]): Promise<{ id: string; reason: string }[]>;
  /**
   * Claims the oldest queued request that `rules` let start, or none. The rules are applied to the
   * requests in flight on every gateway sharing the store (a dead gateway's no longer count once
   * their leases ran out) in the same step as the claim: two gateways claiming at once take turns.
   */
  claimNext(now?: number, rules?: ClaimRules): Promise<RunRequestRow | undefined>;
  /**
   * Claims the requests left running by a gateway that died (their lease ran out; on SQLite at
   * start-up, every one: see `resetInterrupted`), for this gateway to recover.
   */
  adoptAbandoned(now?: number): Promise<RunRequestRow[]>;
  /** As Queue.resetInterrupted, for running requests (adopted next by `adoptAbandoned`). */
  resetInterrupted(): Promise<number>;
  finish(id: string, state: "done" | "cancelled", note?: string, now?: number): Promise<void>;
  /**
   * Ends an interrupted request and queues a copy under `newId` with one more attempt, keeping
   * its time. `by` marks an attempt that does not count as spent: "shutdown" (Airlock was stopped)
   * or "lost" (the gateway running it died).
   */
  requeue(
    req: RunRequestRow,
    newId: string,
    now?: number,
    why?: string,
    by?: Interruption | null,
  ): Promise<void>;
  /** Its attempt number, less earlier attempts that a shutdown or a lost gateway interrupted. */
  attemptsSpent(req: RunRequestRow): Promise<number>;
  /** Its earlier attempts whose gateway died under them ("lost"). */
  attemptsLost(req: RunRequestRow): Promise<number>;
  /** Whether an attempt of the request (itself included) is still queued or running. */
  attemptPending(req: RunRequestRow): Promise<boolean>;
  /** Ids of a request's earlier attempts, oldest first. */
  earlierAttempts(req: RunRequestRow): Promise<string[]>;
  get(id: string): Promise<RunRequestRow | undefined>;
  /** Requests in one state, oldest first. */
  inState(state: RequestState): Promise<RunRequestRow[]>;
  /**
   * Whether this gateway holds the request: running under its claim. On PostgreSQL the row stays
   * locked to the end of the transaction asking, so no takeover commits in between.
   */
  holdsClaim(id: string): Promise<boolean>;
  /** The newest request on a commit whose run has job `jobId`. */
  jobOwner(repo: string, pr: number, sha: string, jobId: string): Promise<string | undefined>;
  /** Requests of a PR, optionally of one commit, oldest first. */
  forPr(repo: string, pr: number, sha?: string): Promise<RunRequestRow[]>;
  /** The newest request of each repository (up to `limit`, newest first). */
  newestPerRepo(limit: number): Promise<RunRequestRow[]>;
  /**
   * Calls `listener` for each request that ends (done or cancelled, not taken up again), inside
   * the transaction that ends it, so that work it sets off is stored with the end or not at all.
   * Listeners belong to the open store (its transactions included). Returns a function that
   * removes it.
   */
  onSettled(listener: SettledListener): () => void;
}
