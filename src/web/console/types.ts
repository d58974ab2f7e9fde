// What the console needs from the rest of Airlock. It reads only redacted stores (runs, jobs,
// logs, audit) and secret *metadata*; it holds no secret backend and no way to read a value.
// Actions on runs belong to the gateway and arrive as callbacks.
import type { ArtifactStore } from "../../artifacts/store.js";
import type { AuditQuery } from "../../store/audit-query.js";
import type { ApprovalWaitRepo, AuditRecord, RunRepo, RunRow } from "../../store/index.js";
import type { LogStore } from "../../store/logs.js";
import type { AuditWriter, Auth } from "../auth/auth.js";

export interface ActionResult {
  ok: boolean;
  /** Shown to the member; say what happened or why not. */
  message: string;
}

export interface RunRef {
  id: string;
  repo: string;
  pr: number | null;
  sha: string;
}

/** One commit of a pull request, as the approval inbox names it. */
export interface CommitRef {
  repo: string;
  pr: number;
  sha: string;
}

/** Wired by the gateway. `actor` is the signed-in member (GitHub login or token name). */
export interface ConsoleActions {
  /** Approve exactly `sha` (the same rule as `/ok-to-test <sha>`) and start the restricted jobs. */
  approve(run: RunRef, sha: string, actor: string): Promise<ActionResult>;
  /** Approve exactly the commit the approval inbox showed, by the same rule. */
  approveCommit(commit: CommitRef, actor: string): Promise<ActionResult>;
  cancel(run: RunRef, actor: string): Promise<ActionResult>;
  rerunFailed(run: RunRef, actor: string): Promise<ActionResult>;
  runAll(run: RunRef, actor: string): Promise<ActionResult>;
}

export interface SecretKeyMeta {
  key: string;
  version: number;
  versions: number[];
  updatedAt: number | null;
  rotatedAt: number | null;
}

export interface SecretSetMeta {
  name: string;
  backend: string;
  keys: SecretKeyMeta[];
  /** Jobs of the configuration that declare the set. */
  jobs: string[];
  /** Keys whose last rotation is older than the policy allows. */
  rotationDue: string[];
  /** Why the keys could not be listed (backend unreachable); never a value. */
  error?: string;
}

export interface SecretsInventory {
  listSets(): Promise<SecretSetMeta[]>;
}

/** An audit entry as the console shows it: the store's record. */
export type AuditItem = AuditRecord;

export interface AuditPageResult {
  /** Newest first. */
  items: AuditItem[];
  /** Cursor for the next newer page (`after`), null on the newest. */
  newerAfter: number | null;
  /** Cursor for the next older page (`before`), null on the oldest. */
  olderBefore: number | null;
}

/** `AuditRepo` from src/store/audit.ts satisfies it. */
export interface AuditReader {
  list(filter: { run?: string; action?: string; limit?: number }): Promise<AuditItem[]>;
  page(
    q: AuditQuery,
    req: { limit: number; before?: number; after?: number },
  ): Promise<AuditPageResult>;
  /** Every matching entry, newest first. */
  scan(q: AuditQuery): AsyncIterable<AuditItem>;
}

export interface PublicSummaryPolicy {
  /** Off unless the repository opted in. */
  enabled: boolean;
  /** Redacted JUnit failure messages: of public jobs only (default), of all jobs, or none. */
  failureMessages?: "public-jobs" | "all" | "none";
}

export interface ConsoleOptions {
  auth: Auth;
  runs: RunRepo;
  logs: LogStore;
  audit: AuditReader & AuditWriter;
  actions: ConsoleActions;
  /** The approval inbox's records; without them the inbox is empty. */
  waits?: Pick<ApprovalWaitRepo, "waiting">;
  secrets?: SecretsInventory;
  /** What jobs kept (`artifacts:`), listed on run pages and served to signed-in members. */
  artifacts?: Pick<ArtifactStore, "list" | "file">;
  /** Per repository; without it no public summary is served. */
  publicSummary?: (run: RunRow) => PublicSummaryPolicy | Promise<PublicSummaryPolicy>;
  /** For PR and commit links of GitHub runs: https://github.com by default. */
  githubWebUrl?: string;
  /** How often the live stream looks for new output (ms); 200 by default. */
  pollMs?: number;
  /** Lines per log page; 1000 by default. */
  pageLines?: number;
  /** Runs per list page; 50 by default. */
  pageRuns?: number;
  /** Audit entries per page; 50 by default. */
  pageAudit?: number;
  /** Warnings about the server shown on every signed-in page (an unsafe setting in force). */
  notices?: readonly string[];
}
