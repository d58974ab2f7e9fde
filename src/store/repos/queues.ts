// The queues a gateway claims work from: webhook events and the outbox, with the check runs and
// rate-limit pauses they write. Part of the Store interface (../types.ts).
import type { EventState } from "../events-schema.js";
import type { OutboxState } from "../outbox-schema.js";
import type { Store } from "../types.js";

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
   * that were never tried yet are superseded, so only the newest state is sent. One tried before
   * (waiting for its retry) stays: it may have reached the forge in part, and only its own retry
   * knows what it did there (a check run it created, say).
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
   * Claims as `Queue.claimNext` does; given `perInstallation`, only an item of an installation
   * with fewer items than that in flight on every gateway sharing the store (those whose lease
   * ran out are not counted), counted and claimed in one step.
   */
  claimNext(now?: number, perInstallation?: number): Promise<OutboxItem | undefined>;
  /**
   * Stores an item. `onlyIf` is asked in the same transaction, so what it checks cannot change
   * before the item is stored ("skipped": it said no).
   */
  enqueue(
    item: NewOutboxItem,
    now?: number,
    onlyIf?: (tx: Store) => Promise<boolean>,
  ): Promise<"stored" | "duplicate" | "skipped">;
  /**
   * Called just before a write of the item is sent: renews this gateway's claim, and records that
   * the write may land until `until` (no other gateway takes the item over before then, even once
   * the lease ran out). False when the claim is no longer this gateway's (it stalled past its
   * lease and another gateway took the item over): the write must not be sent.
   */
  guardWrite(seq: number, until: number, now?: number): Promise<boolean>;
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
