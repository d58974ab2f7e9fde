// The gateway's run queue: a run is requested in the same transaction that marks the webhook
// event done (so it is requested exactly once), then started from here, and taken up again after a
// restart. Also the test labels of each PR that a trusted sender set. Statements run synchronously
// on the better-sqlite3 handle, so the `*Sync` methods can join the event store's transaction.
import { randomBytes } from "node:crypto";
import type SQLite from "better-sqlite3";

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
}

export type NewRunRequest = Omit<
  RunRequestRow,
  "state" | "attempt" | "createdAt" | "startedAt" | "finishedAt" | "note"
> & {
  attempt?: number;
  note?: string | null;
  /** A request taken up again keeps the time, and so the place, of the one it continues. */
  createdAt?: number;
};

interface Row {
  id: string;
  repo: string;
  pr: number;
  installation_id: number;
  head_sha: string;
  base_sha: string;
  head_ref: string;
  author: string;
  kind: string;
  selection: string | null;
  requested_by: string;
  state: string;
  attempt: number;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  note: string | null;
}

const toRequest = (r: Row): RunRequestRow => ({
  id: r.id,
  repo: r.repo,
  pr: r.pr,
  installationId: r.installation_id,
  headSha: r.head_sha,
  baseSha: r.base_sha,
  headRef: r.head_ref,
  author: r.author,
  kind: r.kind as RunKind,
  selection: r.selection === null ? null : (JSON.parse(r.selection) as RequestSelection),
  requestedBy: r.requested_by,
  state: r.state as RequestState,
  attempt: r.attempt,
  createdAt: r.created_at,
  startedAt: r.started_at,
  finishedAt: r.finished_at,
  note: r.note,
});

/** A new request id: sortable by time, unique by its random part. */
export const newRequestId = (now = Date.now()) =>
  `${new Date(now).toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15)}-${randomBytes(4).toString("hex")}`;

/**
 * Requests are ordered by `created_at`, then `attempt`: every new request gets a time of its own
 * (later than all before it), and a request taken up again keeps the time of the one it continues,
 * so an old request's retry never counts as newer than a request made after it.
 */
export class RunRequestStore {
  private readonly settledListeners = new Set<(req: RunRequestRow) => void>();

  constructor(readonly sqlite: SQLite.Database) {}

  /**
   * Calls `listener` for each request that ends (done or cancelled, not taken up again), inside
   * the transaction that ends it, so that work it must set off is stored with the end or not at
   * all. Returns a function that removes it.
   */
  onSettled(listener: (req: RunRequestRow) => void): () => void {
    this.settledListeners.add(listener);
    return () => this.settledListeners.delete(listener);
  }

  private settled(r: Row): void {
    const req = toRequest(r);
    for (const l of this.settledListeners) l(req);
  }

  /** Waits until no async transaction of another module is open on the shared connection. */
  async ready(): Promise<void> {
    while (this.sqlite.inTransaction) await new Promise((r) => setImmediate(r));
  }

  /** Stores a request; safe inside another store's transaction. */
  insertSync(req: NewRunRequest, now = Date.now()): void {
    const createdAt = req.createdAt ?? this.nextTime(now);
    this.sqlite
      .prepare(
        `INSERT INTO run_requests (id, repo, pr, installation_id, head_sha, base_sha, head_ref, author,
           kind, selection, requested_by, state, attempt, created_at, note)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?)`,
      )
      .run(
        req.id,
        req.repo,
        req.pr,
        req.installationId,
        req.headSha,
        req.baseSha,
        req.headRef,
        req.author,
        req.kind,
        req.selection === null ? null : JSON.stringify(req.selection),
        req.requestedBy,
        req.attempt ?? 1,
        createdAt,
        req.note ?? null,
      );
  }

  /** `now`, or just after the newest request when the clock has not moved past it. */
  private nextTime(now: number): number {
    const r = this.sqlite.prepare(`SELECT max(created_at) AS t FROM run_requests`).get() as {
      t: number | null;
    };
    return r.t === null ? now : Math.max(now, r.t + 1);
  }

  /** Cancels queued requests of a PR (all, or those for other commits than `keepSha`). */
  cancelQueuedSync(repo: string, pr: number, note: string, keepSha?: string, now = Date.now()) {
    const run = () => {
      const rows = this.sqlite
        .prepare(
          `UPDATE run_requests SET state = 'cancelled', finished_at = ?, note = ?
           WHERE repo = ? AND pr = ? AND state = 'queued' AND head_sha != ?
           RETURNING *`,
        )
        .all(now, note, repo, pr, keepSha ?? "") as Row[];
      for (const r of rows) this.settled(r);
      return rows.length;
    };
    return this.sqlite.inTransaction ? run() : this.sqlite.transaction(run)();
  }

  /** Claims the oldest queued request, or returns undefined. */
  /** Claims the oldest queued request, leaving those in `skip` (ids) queued. */
  async claimNext(now = Date.now(), skip: string[] = []): Promise<RunRequestRow | undefined> {
    await this.ready();
    const r = this.sqlite
      .prepare(
        `UPDATE run_requests SET state = 'running', started_at = ?
         WHERE id = (SELECT id FROM run_requests WHERE state = 'queued'
                       AND id NOT IN (SELECT value FROM json_each(?))
                     ORDER BY created_at, attempt, rowid LIMIT 1)
         RETURNING *`,
      )
      .get(now, JSON.stringify(skip)) as Row | undefined;
    return r ? toRequest(r) : undefined;
  }

  async finish(id: string, state: "done" | "cancelled", note?: string, now = Date.now()) {
    await this.ready();
    this.sqlite.transaction(() => {
      const r = this.sqlite
        .prepare(
          `UPDATE run_requests SET state = ?, finished_at = ?, note = coalesce(?, note) WHERE id = ?
           RETURNING *`,
        )
        .get(state, now, note ?? null, id) as Row | undefined;
      if (r) this.settled(r);
    })();
  }

  /**
   * Ends an interrupted request and queues a copy under a new id, with one more attempt. The copy
   * keeps the request's time: it continues that request, and is no newer than later ones. A
   * request interrupted by a shutdown is marked so: that attempt does not count as spent.
   */
  async requeue(
    req: RunRequestRow,
    newId: string,
    now = Date.now(),
    why = "interrupted",
    by: "shutdown" | null = null,
  ): Promise<void> {
    await this.ready();
    this.sqlite.transaction(() => {
      this.insertSync(
        { ...req, id: newId, attempt: req.attempt + 1, note: null, createdAt: req.createdAt },
        now,
      );
      this.sqlite
        .prepare(
          `UPDATE run_requests SET state = 'done', finished_at = ?, note = ?, interrupted_by = ?
           WHERE id = ?`,
        )
        .run(now, `${why}; taken up again as ${newId}`, by, req.id);
    })();
  }

  /**
   * The attempts a request has used up: its attempt number, less the earlier attempts a shutdown
   * interrupted (a deploy or restart is no failure of the run, however often it happens).
   */
  attemptsSpent(req: RunRequestRow): number {
    const r = this.sqlite
      .prepare(
        `SELECT count(*) AS n FROM run_requests
          WHERE repo = ? AND pr = ? AND head_sha = ? AND kind = ? AND created_at = ? AND attempt < ?
            AND interrupted_by = 'shutdown'`,
      )
      .get(req.repo, req.pr, req.headSha, req.kind, req.createdAt, req.attempt) as { n: number };
    return req.attempt - r.n;
  }

  /** Whether an attempt of the request (itself included) is still queued or running. */
  attemptPending(req: RunRequestRow): boolean {
    const r = this.sqlite
      .prepare(
        `SELECT count(*) AS n FROM run_requests
          WHERE repo = ? AND pr = ? AND head_sha = ? AND kind = ? AND created_at = ?
            AND state IN ('queued', 'running')`,
      )
      .get(req.repo, req.pr, req.headSha, req.kind, req.createdAt) as { n: number };
    return r.n > 0;
  }

  /** Ids of a request's earlier attempts, oldest first (`requeue` keeps `createdAt`). */
  earlierAttempts(req: RunRequestRow): string[] {
    const rows = this.sqlite
      .prepare(
        `SELECT id FROM run_requests
          WHERE repo = ? AND pr = ? AND head_sha = ? AND kind = ? AND created_at = ? AND attempt < ?
          ORDER BY attempt`,
      )
      .all(req.repo, req.pr, req.headSha, req.kind, req.createdAt, req.attempt) as { id: string }[];
    return rows.map((r) => r.id);
  }

  get(id: string): RunRequestRow | undefined {
    const r = this.sqlite.prepare(`SELECT * FROM run_requests WHERE id = ?`).get(id) as
      | Row
      | undefined;
    return r ? toRequest(r) : undefined;
  }

  /** Requests in one state, oldest first. */
  inState(state: RequestState): RunRequestRow[] {
    return (
      this.sqlite
        .prepare(`SELECT * FROM run_requests WHERE state = ? ORDER BY created_at, attempt, rowid`)
        .all(state) as Row[]
    ).map(toRequest);
  }

  /**
   * The request whose run reports job `jobId` on a commit: the newest request (see the class
   * comment) whose run has that job. Undefined when no run on the commit has it.
   */
  jobOwner(repo: string, pr: number, sha: string, jobId: string): string | undefined {
    const r = this.sqlite
      .prepare(
        `SELECT q.id FROM run_requests q
         WHERE q.repo = ? AND q.pr = ? AND q.head_sha = ?
           AND EXISTS (SELECT 1 FROM jobs j WHERE j.run_id = q.id AND j.job_id = ?)
         ORDER BY q.created_at DESC, q.attempt DESC, q.rowid DESC LIMIT 1`,
      )
      .get(repo, pr, sha, jobId) as { id: string } | undefined;
    return r?.id;
  }

  /** Requests of a PR, optionally of one commit, oldest first. */
  forPr(repo: string, pr: number, sha?: string): RunRequestRow[] {
    const rows = (
      sha
        ? this.sqlite
            .prepare(
              `SELECT * FROM run_requests WHERE repo = ? AND pr = ? AND head_sha = ? ORDER BY created_at, attempt, rowid`,
            )
            .all(repo, pr, sha)
        : this.sqlite
            .prepare(
              `SELECT * FROM run_requests WHERE repo = ? AND pr = ? ORDER BY created_at, attempt, rowid`,
            )
            .all(repo, pr)
    ) as Row[];
    return rows.map(toRequest);
  }

  // ---- labels ---------------------------------------------------------------------------------

  addLabelSync(repo: string, pr: number, label: string, by: string, now = Date.now()): void {
    this.sqlite
      .prepare(
        `INSERT INTO pr_labels (repo, pr, label, added_by, added_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (repo, pr, label) DO UPDATE SET added_by = excluded.added_by, added_at = excluded.added_at`,
      )
      .run(repo, pr, label, by, now);
  }

  removeLabelSync(repo: string, pr: number, label: string): void {
    this.sqlite
      .prepare(`DELETE FROM pr_labels WHERE repo = ? AND pr = ? AND label = ?`)
      .run(repo, pr, label);
  }

  /** Labels a trusted sender set on the PR. */
  trustedLabels(repo: string, pr: number): string[] {
    return (
      this.sqlite
        .prepare(`SELECT label FROM pr_labels WHERE repo = ? AND pr = ? ORDER BY label`)
        .all(repo, pr) as { label: string }[]
    ).map((r) => r.label);
  }
}
