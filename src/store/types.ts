// The Store: every durable record of Airlock behind one interface, with SQLite (embedded default)
// and PostgreSQL behind it (src/store/kysely/, one set of queries over both). Nothing outside
// src/store/ sees a driver, a dialect or a synchronous transaction: callers get a Store, and
// `transaction(fn)` hands `fn` the same Store bound to one transaction.
//
// Queues (webhook events, the outbox, run requests) are claimed with one statement that moves a
// row to its in-flight state under a lease (LeaseRepo: who holds it, until when); on PostgreSQL
// the row is chosen with FOR UPDATE SKIP LOCKED, so several gateways sharing one database never
// claim the same row. A claim is settled only by its holder; a claim whose lease ran out (its
// gateway died) is taken over by the next gateway that claims.
import type { Selectable } from "kysely";
import type { EgressRecord } from "../egress/record.js";
import type { AuditQuery } from "./audit-query.js";
import type { EventState } from "./events-schema.js";
import type { OidcKeysTable } from "./oidc-keys-schema.js";
import type { OutboxState } from "./outbox-schema.js";
import type { JobState, JobsTable, RunStatus, RunsTable } from "./schema.js";
import type { SecretKeyringTable, SecretKeysTable, SecretValuesTable } from "./secrets-schema.js";

export type { AuditQuery } from "./audit-query.js";
export type { EventState } from "./events-schema.js";
export type { OutboxState } from "./outbox-schema.js";
export type { JobState, RunStatus } from "./schema.js";

export type Engine = "sqlite" | "postgres";

/** Every record store, alone or bound to one transaction. */
export interface Store {
  readonly runs: RunRepo;
  readonly events: EventQueue;
  readonly outbox: OutboxQueue;
  readonly checkRuns: CheckRunRepo;
  readonly requests: RunRequestQueue;
  readonly labels: PrLabelRepo;
  readonly approvals: ApprovalRepo;
  /** The approval inbox: commits waiting for an approval, and their notices. */
  readonly waits: ApprovalWaitRepo;
  readonly sessions: SessionRepo;
  readonly secrets: SecretRepo;
  readonly oidcKeys: OidcKeyRepo;
  readonly audit: AuditRepo;
  readonly leases: LeaseRepo;
  readonly retention: RetentionRepo;
  readonly pauses: PauseRepo;
  /**
   * Runs `fn` in one transaction: everything it does through `tx` commits together or not at all.
   * Called on a Store that is already a transaction, `fn` joins it. Using the outer Store inside
   * `fn` is a bug (it would wait for the transaction to end): it throws.
   */
  transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T>;
  /**
   * Runs `fn` once the transaction this Store is bound to has committed (at once on a Store that
   * is not a transaction); never when it rolls back. For telling a loop that work is there to
   * claim: other connections see the rows only after the commit.
   */
  afterCommit(fn: () => void): void;
}

/** An open database: the Store and what concerns the connection itself. */
export interface OpenStore extends Store {
  readonly engine: Engine;
  /** Where the data lives, without credentials ("sqlite:/var/lib/airlock/airlock.db", "postgres://db:5432/airlock"). */
  readonly location: string;
  /** A round trip to the database (health checks). */
  ping(): Promise<void>;
  /**
   * A write that must reach the database (readiness): a read still succeeds on a read-only or full
   * disk, a read-only server or a broken file; only a write shows that the store can still store.
   */
  probeWrite(now?: number): Promise<void>;
  /** The server's version ("SQLite 3.53.0", "PostgreSQL 15.14"). */
  version(): Promise<string>;
  close(): Promise<void>;
}

// ---- runs and jobs ------------------------------------------------------------------------------

export type RunRow = RunsTable;

/** The run note holding what each job is for (the config's `description`), by job id. */
export const DESCRIPTIONS_NOTE = "descriptions";
export type JobRow = Selectable<JobsTable>;

export interface NewRun {
  id: string;
  source: string;
  repo: string;
  ref: string | null;
  sha: string;
  pr?: number | null;
  selection?: unknown;
  authorizedBy?: string | null;
  notes?: Record<string, unknown>;
}

export interface NewJob {
  jobId: string;
  template: string;
  needs: string[];
  secrets: string[];
  /** Holds credentials (secrets or ID tokens): its logs are private. Default: has secrets. */
  restricted?: boolean;
  state: JobState;
  reason: string;
}

export interface TestResult {
  suite: string;
  name: string;
  status: "passed" | "failed" | "skipped";
  durationMs: number;
  /** Redacted failure message. */
  message?: string;
}

export interface JobUpdate {
  state?: JobState;
  reason?: string;
  exitCode?: number | null;
  startedAt?: number | null;
  finishedAt?: number | null;
  tests?: TestResult[];
  grants?: Record<string, unknown>;
  error?: string | null;
  /** Airlock's closing lines about the job: fixed texts, safe to show publicly. */
  notes?: string[];
  /** Where a job with a network allow list connected (redacted). */
  egress?: EgressRecord;
}

export interface RunFilter {
  repo?: string;
  pr?: number;
  status?: RunStatus;
  /** A job id or a job template (matrix key) the run has. */
  job?: string;
}

export interface RunRepo {
  create(run: NewRun, jobs: NewJob[]): Promise<void>;
  setStatus(runId: string, status: RunStatus): Promise<void>;
  addNotes(runId: string, notes: Record<string, unknown>): Promise<void>;
  updateJob(runId: string, jobId: string, u: JobUpdate): Promise<void>;
  get(runId: string): Promise<RunRow | undefined>;
  /** The newest run, optionally of one source. */
  latest(source?: string): Promise<RunRow | undefined>;
  jobs(runId: string): Promise<JobRow[]>;
  /** Runs newest first; `more` says whether a page follows. */
  list(
    f: RunFilter,
    page: { limit: number; offset: number },
  ): Promise<{ rows: RunRow[]; more: boolean }>;
  /** Job counts by state per run. */
  jobStates(runIds: string[]): Promise<Map<string, Record<string, number>>>;
  /** Of these runs, those left queued or running by a process that died: recorded as errors; their ids. */
  markInterrupted(runIds: string[]): Promise<string[]>;
}

// ---- queues -------------------------------------------------------------------------------------

/**
 * Claims of this open store: every row it claims is leased to `holder` for `ttlMs`, renewed by a
 * heartbeat while the process lives (started by the first claim, stopped by `close`).
 */
export interface LeaseRepo {
  /** Unique to the process: host, process id and a random part. */
  readonly holder: string;
  readonly ttlMs: number;
  /** Extends every lease this holder has on work in flight; how many. */
  renew(now?: number): Promise<number>;
  /** Ends this holder's leases on work still in flight, for another gateway to take at once. */
  release(): Promise<number>;
  /**
   * Runs `fn` unless another process sharing the database runs the chore `name` right now (a
   * PostgreSQL advisory lock, held by one connection while `fn` runs and released if the process
   * dies; SQLite has one gateway per database, so the chore is always its own).
   */
  singleton<T>(
    name: string,
    fn: () => Promise<T>,
  ): Promise<{ ran: true; value: T } | { ran: false }>;
}

// ---- retention ----------------------------------------------------------------------------------

/** How long finished records are kept (ms); null keeps them for ever. */
export interface RetentionPolicy {
  /** Webhook deliveries processed, failed or rejected (and their bodies), by when they ended. */
  deliveries: number | null;
  /** Outbox items sent, superseded or failed, by when they ended. */
  outbox: number | null;
  /** Check run ids by commit, by their last write. */
  checkRuns: number | null;
  /** Finished runs with their jobs, and ended run requests, by when they ended. */
  runs: number | null;
}

export interface PruneCounts {
  deliveries: number;
  outbox: number;
  checkRuns: number;
  runs: number;
  requests: number;
  /** Expired sign-in sessions and used or expired links. */
  sessions: number;
  /** The runs removed (their logs are files: the caller removes those). */
  runIds: string[];
}

/** Removes what the policy no longer keeps, in small transactions; never work in flight or audit. */
export interface RetentionRepo {
  prune(policy: RetentionPolicy, now?: number): Promise<PruneCounts>;
  /** Which of these runs exist. */
  existing(runIds: string[]): Promise<Set<string>>;
}

/** What the event queue and the outbox share: claim the oldest due row, then settle it. */
export interface Queue<T> {
  /**
   * Claims the oldest row that is due, or one in flight whose lease ran out (its gateway died),
   * or undefined.
   */
  claimNext(now?: number): Promise<T | undefined>;
  /** Puts a claimed row back for an attempt at `at` (only its holder can). */
  retryLater(seq: number, at: number, error: string): Promise<void>;
  /**
   * Claims nobody holds in hand go back to the queue: this process's own (call it with none in
   * hand: at start-up, or after a store failure left one claimed) and a dead process's: on SQLite
   * (one gateway per database) every claim; on PostgreSQL those whose lease ran out (the others
   * as theirs run out).
   */
  resetInterrupted(): Promise<number>;
  /** When the next pending row becomes due; undefined when none is pending. */
  nextDueAt(): Promise<number | undefined>;
  /** Rows waiting or in flight. */
  depth(): Promise<number>;
}

export interface StoredEvent {
  seq: number;
  deliveryId: string;
  name: string;
  action: string | null;
  /** Empty in `list`; `get` and `claimNext` carry it. */
  payload: string;
  state: EventState;
  /** Attempts made so far, including the one just claimed. */
  attempts: number;
  receivedAt: number;
  error: string | null;
}

export interface NewEvent {
  deliveryId: string;
  name: string;
  action: string | null;
  payload: string;
  /** "rejected" stores a delivery that will never be processed, with `error` saying why. */
  state?: "pending" | "rejected";
  error?: string;
}

/** A write that commits in the transaction that marks an event done: it happens exactly once. */
export type CompletionWrite = (tx: Store) => Promise<unknown>;

export interface EventQueue extends Queue<StoredEvent> {
  /**
   * Stores a delivery once; a second one with the same id is a duplicate. Resolves after the
   * commit. Deliveries arriving together share one transaction (group commit).
   */
  insert(event: NewEvent, now?: number): Promise<"stored" | "duplicate">;
  /** Marks a claimed event done, with `writes` in the same transaction. */
  complete(seq: number, writes?: CompletionWrite[], now?: number): Promise<void>;
  /** Gives up on an event, or rejects one whose payload cannot be processed. */
  finish(seq: number, state: "failed" | "rejected", error: string, now?: number): Promise<void>;
  get(deliveryId: string): Promise<StoredEvent | undefined>;
  /** Events without their payloads, oldest first. */
  list(state?: EventState): Promise<StoredEvent[]>;
}

export interface NewOutboxItem {
  kind: string;
  /** Enqueuing a key that is already stored does nothing. */
  key: string;
  /** Items with the same ordering key are sent one at a time, oldest first. */
  orderingKey: string;
  repo: string;
  installationId: number;
  payload: unknown;
  /**
   * The payload is the full desired state of its target: older items of the same ordering key
   * that were not sent yet are superseded, so only the newest state is sent.
   */
  supersedes?: boolean;
  /**
   * With `supersedes`: the payload to store, given the unsent payloads it supersedes (oldest
   * first), for targets where a state that is never sent still matters.
   */
  fold?: (payload: unknown, superseded: unknown[]) => unknown;
}

export interface OutboxItem {
  seq: number;
  kind: string;
  key: string;
  orderingKey: string;
  repo: string;
  installationId: number;
  payload: unknown;
  state: OutboxState;
  /** Attempts so far, including the one just claimed. */
  attempts: number;
  createdAt: number;
  lastError: string | null;
}

export interface OutboxQueue extends Queue<OutboxItem> {
  /**
   * Stores an item. `onlyIf` is asked in the same transaction, so what it checks cannot change
   * before the item is stored ("skipped": it said no).
   */
  enqueue(
    item: NewOutboxItem,
    now?: number,
    onlyIf?: (tx: Store) => Promise<boolean>,
  ): Promise<"stored" | "duplicate" | "skipped">;
  complete(seq: number, now?: number): Promise<void>;
  fail(seq: number, error: string, now?: number): Promise<void>;
  list(state?: OutboxState): Promise<OutboxItem[]>;
}

export interface CheckRunRecord {
  /** Null while a create was sent without a known answer. */
  id: number | null;
  via: "checks" | "status";
  /** The status last sent; null when not known. */
  status?: string | null;
  /** With `id: null`: the completed check run that the create in flight replaces. */
  replaces?: number | null;
  /** The outbox item that wrote the record. */
  seq?: number | null;
}

/**
 * Pauses every gateway sharing the database observes: a spent GitHub rate limit that one of them
 * met stops the writes of all until it resets.
 */
export interface PauseRepo {
  /** Extends the pause `name` to `until` (ms); never shortens it. */
  extend(name: string, until: number, reason: string, now?: number): Promise<void>;
  /** Until when `name` is paused (0: never was). */
  until(name: string): Promise<number>;
}

/** The forge's id of the current check run of each (repo, commit, name). */
export interface CheckRunRepo {
  get(repo: string, sha: string, name: string): Promise<CheckRunRecord | undefined>;
  /** Records the check run's id; `id: null` marks a create about to be sent. */
  set(repo: string, sha: string, name: string, rec: CheckRunRecord, now?: number): Promise<void>;
}

// ---- run requests -------------------------------------------------------------------------------

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
  /** Of these running requests, those asked to stop, with why. */
  stopsAsked(ids: string[]): Promise<{ id: string; reason: string }[]>;
  /** Claims the oldest queued request, leaving those in `skip` (ids) queued. */
  claimNext(now?: number, skip?: string[]): Promise<RunRequestRow | undefined>;
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
   * its time. `by: "shutdown"` marks an attempt that does not count as spent.
   */
  requeue(
    req: RunRequestRow,
    newId: string,
    now?: number,
    why?: string,
    by?: "shutdown" | null,
  ): Promise<void>;
  /** Its attempt number, less earlier attempts that a shutdown interrupted. */
  attemptsSpent(req: RunRequestRow): Promise<number>;
  /** Whether an attempt of the request (itself included) is still queued or running. */
  attemptPending(req: RunRequestRow): Promise<boolean>;
  /** Ids of a request's earlier attempts, oldest first. */
  earlierAttempts(req: RunRequestRow): Promise<string[]>;
  get(id: string): Promise<RunRequestRow | undefined>;
  /** Requests in one state, oldest first. */
  inState(state: RequestState): Promise<RunRequestRow[]>;
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

/** Test labels of each PR that a trusted sender set. */
export interface PrLabelRepo {
  add(repo: string, pr: number, label: string, by: string, now?: number): Promise<void>;
  remove(repo: string, pr: number, label: string): Promise<void>;
  trusted(repo: string, pr: number): Promise<string[]>;
}

// ---- approvals ----------------------------------------------------------------------------------

export interface PrHead {
  sha: string;
  /** Who an event proves pushed this head; null when no event did (never taken for trust). */
  pushedBy: string | null;
  seenAt: number;
}

export interface Approval {
  id: number;
  sha: string;
  approvedBy: string;
  via: "comment" | "label";
  createdAt: number;
  voidedAt: number | null;
  voidReason: string | null;
}

/**
 * The head of each PR and approvals pinned to exact SHAs. Recording a new head voids approvals of
 * other SHAs in the same transaction; every approval and voiding is audited in it too.
 */
export interface ApprovalRepo {
  head(repo: string, pr: number): Promise<PrHead | undefined>;
  /**
   * Records the head. `pushedBy`: who an event proves pushed exactly this commit, or null. A new
   * head starts over from this evidence; on the same head, evidence fills in an unknown pusher
   * but never replaces a known one (docs/security.md, "Who pushed a commit").
   */
  setHead(
    repo: string,
    pr: number,
    sha: string,
    pushedBy: string | null,
    now?: number,
  ): Promise<{ changed: boolean; previous: string | undefined; voided: number }>;
  /** Stores an approval of `sha` only while it is still the PR's head. */
  approve(
    repo: string,
    pr: number,
    sha: string,
    approvedBy: string,
    via: "comment" | "label",
    now?: number,
  ): Promise<boolean>;
  approvalFor(repo: string, pr: number, sha: string): Promise<Approval | undefined>;
  /** Every approval of the PR, voided ones included, oldest first. */
  history(repo: string, pr: number): Promise<Approval[]>;
  voidAll(repo: string, pr: number, reason: string, now?: number): Promise<number>;
}

// ---- the approval inbox -------------------------------------------------------------------------

/** "waiting", or why a commit stopped waiting. */
export type WaitState = "waiting" | "approved" | "superseded" | "closed" | "draft";

/** One requirement of a commit's approval, and where it stands. */
export interface WaitRequirement {
  /** The rule's name; "default" for the approval every commit needs. */
  name: string;
  /** What it asks, in words ("2 approvals from distinct trusted members"). */
  text: string;
  /** Who approved so far and counts. */
  by: string[];
  /** Approvals still needed. */
  missing: number;
  /** Changed paths that brought the rule in (a few), and how many in all. */
  paths: string[];
  matched: number;
}

/** What a commit waits for: names, counts and paths, never a line of a log or a secret. */
export interface WaitView {
  requirements: WaitRequirement[];
  /** The forge listed only part of the changed files (every rule applies). */
  incomplete: boolean;
  /** The changed paths (the first few) and how many in all; empty when not compared. */
  paths: string[];
  pathCount: number;
  /** Restricted jobs that wait. */
  waiting: string[];
  /** A bot's scope runs these meanwhile. */
  scoped?: { bot: string; jobs: string[] };
  /** What changed since the PR's last approved commit. */
  delta?: {
    fromSha: string;
    approvedBy: string[];
    /** The first few paths, and how many in all. */
    paths: string[];
    count: number;
    url: string;
    /** The approved commit is not an ancestor of this one (history was rewritten). */
    rewritten: boolean;
  };
}

export interface ApprovalWait {
  repo: string;
  pr: number;
  sha: string;
  installationId: number;
  baseSha: string;
  author: string;
  /** The PR's title: the author's text, shown escaped. */
  title: string;
  state: WaitState;
  /** When the commit started waiting. */
  since: number;
  updatedAt: number;
  view: WaitView;
  /** When its notice was stored for sending (null: none yet). */
  notifiedAt: number | null;
  /** When its reminder is due (null: none asked for). */
  remindAt: number | null;
  remindedAt: number | null;
}

export type NewWait = Pick<
  ApprovalWait,
  "repo" | "pr" | "sha" | "installationId" | "baseSha" | "author" | "title" | "view"
>;

/**
 * Commits waiting for an approval, one row per commit. Claims (`claimNotice`, `claimReminder`) are
 * single statements that succeed once per commit, so a notice stored in the same transaction as
 * its claim is sent once, however many events or processes ask.
 */
export interface ApprovalWaitRepo {
  /**
   * Records that the PR's head `w.sha` waits: a new row starts its wait now; a known one keeps its
   * start, notice and reminder and takes the new view. The PR's other waiting commits are
   * superseded in the same transaction. Returns the row as stored.
   */
  wait(w: NewWait, now?: number): Promise<ApprovalWait>;
  /** Ends the PR's waits: one commit's (`sha`), every one but `exceptSha`'s, or all. */
  settle(
    repo: string,
    pr: number,
    state: Exclude<WaitState, "waiting">,
    which?: { sha?: string; exceptSha?: string },
    now?: number,
  ): Promise<number>;
  /**
   * Marks the commit's notice as stored, once: true when this call did (it waits and had none).
   * `remindAt`: when a reminder becomes due (null: none).
   */
  claimNotice(
    repo: string,
    pr: number,
    sha: string,
    remindAt: number | null,
    now?: number,
  ): Promise<boolean>;
  /** Marks the commit's reminder as stored, once, while it still waits. */
  claimReminder(repo: string, pr: number, sha: string, now?: number): Promise<boolean>;
  get(repo: string, pr: number, sha: string): Promise<ApprovalWait | undefined>;
  /** Commits waiting now, the longest waiting first. */
  waiting(limit?: number): Promise<ApprovalWait[]>;
  /** Waiting commits whose reminder is due and not stored yet, the earliest due first. */
  dueReminders(now?: number, limit?: number): Promise<ApprovalWait[]>;
}

// ---- console sign-in ----------------------------------------------------------------------------

export interface Session {
  login: string;
  via: "github" | "token" | "link";
  tokenId: number | null;
  createdAt: number;
  expiresAt: number;
}

export interface AdminToken {
  id: number;
  name: string;
  createdBy: string;
  createdAt: number;
  expiresAt: number | null;
  revokedAt: number | null;
  lastUsedAt: number | null;
}

/** Callers hand in and get back raw credentials; only their SHA-256 is stored. */
export interface SessionRepo {
  createSession(
    s: { login: string; via: Session["via"]; tokenId?: number | null; ttlMs: number },
    now?: number,
  ): Promise<string>;
  session(rawId: string, now?: number): Promise<Session | undefined>;
  endSession(rawId: string): Promise<void>;
  /** Forgets expired sessions and used or expired links. */
  prune(now?: number): Promise<number>;
  createToken(
    t: { name: string; createdBy: string; expiresAt: number | null },
    now?: number,
  ): Promise<{ token: string; info: AdminToken }>;
  tokenNameTaken(name: string): Promise<boolean>;
  verifyToken(raw: string, now?: number): Promise<AdminToken | undefined>;
  listTokens(): Promise<AdminToken[]>;
  revokeToken(name: string, now?: number): Promise<boolean>;
  createLink(ttlMs: number, now?: number): Promise<string>;
  /** Marks the link used and answers true, once, while it has not expired. */
  consumeLink(raw: string, now?: number): Promise<boolean>;
}

// ---- secrets and audit --------------------------------------------------------------------------

export type KeyringRow = SecretKeyringTable;
export type KeyRow = SecretKeysTable;
export type ValueRow = SecretValuesTable;

/** Rows of the embedded secret store: sealed values and metadata only, never a value in clear. */
export interface SecretRepo {
  keyring(): Promise<KeyringRow[]>;
  insertKeyring(r: KeyringRow): Promise<void>;
  rewrapKeyring(id: string, masterId: string, nonce: Buffer, wrapped: Buffer): Promise<void>;
  deleteKeyring(id: string): Promise<void>;
  setActiveKeyring(id: string): Promise<void>;
  sets(): Promise<string[]>;
  keys(set: string): Promise<KeyRow[]>;
  key(set: string, key: string): Promise<KeyRow | undefined>;
  upsertKey(r: KeyRow): Promise<void>;
  deleteKey(set: string, key?: string): Promise<number>;
  /** Kept versions of a key, newest first. */
  values(set: string, key: string): Promise<ValueRow[]>;
  value(set: string, key: string, version: number): Promise<ValueRow | undefined>;
  allValues(): Promise<ValueRow[]>;
  insertValue(r: ValueRow): Promise<void>;
  replaceSealed(
    r: Pick<ValueRow, "set_name" | "key" | "version" | "key_id" | "nonce" | "ciphertext">,
  ): Promise<void>;
  deleteValue(set: string, key: string, version: number): Promise<void>;
  /** After replacing key material: pushes what was deleted out of files the engine keeps. */
  purgeDeleted(): Promise<void>;
}

/** Rows of the OIDC issuer's signing keys; the private part sealed as secret values are. */
export type OidcKeyRow = OidcKeysTable;

export interface OidcKeyRepo {
  /** Every key, oldest activation first. */
  all(): Promise<OidcKeyRow[]>;
  insert(r: OidcKeyRow): Promise<void>;
  /** Records that the key signed a token valid until `exp` (ms); never moves backwards. */
  noteSigned(kid: string, exp: number): Promise<void>;
  /** Re-seals a private key (a rekey that replaced the data key). */
  replaceSealed(kid: string, keyId: string, nonce: Buffer, ciphertext: Buffer): Promise<void>;
  /** Removes a key, private part included (revoked, or no longer published). */
  delete(kid: string): Promise<void>;
}

export interface AuditEntry {
  action: string;
  actor: string;
  runId?: string | null;
  jobId?: string | null;
  set?: string | null;
  key?: string | null;
  /** key -> version(s), or a list of versions. Never values. */
  versions?: unknown;
  detail?: string | null;
  at?: number;
}

export interface AuditRecord {
  seq: number;
  at: number;
  actor: string;
  action: string;
  runId: string | null;
  jobId: string | null;
  set: string | null;
  key: string | null;
  versions: unknown;
  detail: string | null;
}

export interface AuditFilter {
  set?: string;
  run?: string;
  action?: string;
  /** The newest `limit` entries (still listed oldest first). */
  limit?: number;
}

export interface AuditPageRequest {
  limit: number;
  /** Entries older than this one (its seq). */
  before?: number;
  /** Entries newer than this one; wins over `before`. */
  after?: number;
}

export interface AuditPage {
  /** Newest first. */
  items: AuditRecord[];
  /** The cursor (`after`) for the next newer page; null when this page holds the newest. */
  newerAfter: number | null;
  /** The cursor (`before`) for the next older page; null when this page holds the oldest. */
  olderBefore: number | null;
}

/** The audit log: append-only (the database refuses UPDATE and DELETE); never values. */
export interface AuditRepo {
  record(e: AuditEntry): Promise<void>;
  /** Oldest first. */
  list(filter?: AuditFilter): Promise<AuditRecord[]>;
  /** One keyset page, newest first. */
  page(q: AuditQuery, req: AuditPageRequest): Promise<AuditPage>;
  /** Every matching entry, newest first, read in batches so memory stays flat. */
  scan(q: AuditQuery, from?: { before?: number }, batch?: number): AsyncGenerator<AuditRecord>;
}
