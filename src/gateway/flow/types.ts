// What the use cases of the PR flow share: their options, the services they call, the facts about
// a PR every decision starts from, and the loaded definitions. Use cases import this module and
// each other's helpers; nothing here imports a use case.
import type { Config } from "../../config/schema.js";
import type { Executor } from "../../executors/types.js";
import type { Comparison, Forge } from "../../forge/types.js";
import type { RunnerDeps } from "../../pipeline/runner.js";
import type { PlannedJob } from "../../pipeline/types.js";
import type { GrantContext, SecretGrant } from "../../secrets/types.js";
import type {
  ApprovalRepo,
  ApprovalWaitRepo,
  PrLabelRepo,
  RunRepo,
  RunRequestQueue,
  Store,
} from "../../store/index.js";
import type { HeadRepo } from "../../trust/authorize.js";
import type { TrustRegistry } from "../../trust/registry.js";
import type { Actor, TrustEvaluator } from "../../trust/rules.js";
import type { Definitions } from "../definitions.js";
import type { HandlerContext } from "../events.js";
import type { FairShare } from "../fair-share.js";
import type { Outbox } from "../outbox/index.js";
import type { GatewayEvent } from "../parse-event.js";
import type { PrSource } from "../pr-source.js";
import type { Reporter } from "../report.js";
import type { Capacity } from "../serve-limits.js";
import type { Supervisor } from "../supervisor.js";

export interface FlowLogger {
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
}

/** What a run's executors are chosen by, beyond its definition. */
export interface RunFacts {
  /** The commit is authorized (a trusted author, or an approval of that SHA). */
  authorized: boolean;
}

/** A runner for one run; `close` removes its workspaces. */
export interface RunnerForRun {
  runner: RunnerDeps;
  close(): Promise<void>;
  /**
   * Grants one secret set (suite, GitLab and mirror credentials). Without it, the set is granted
   * through `runner.grant` as a job that declares only that set.
   */
  grantSet?(set: string, ctx: GrantContext): Promise<SecretGrant>;
  /** The executors the definition's restricted jobs may leave work on (see Executor.sweep). */
  sweepers?: Executor[];
}

export interface FlowOptions {
  /** The store itself, for the few writes that need a transaction of their own. */
  store: Store;
  runs: RunRepo;
  approvals: ApprovalRepo;
  /** The approval inbox. */
  waits: ApprovalWaitRepo;
  requests: RunRequestQueue;
  /** Test labels that a trusted sender set. */
  labels: PrLabelRepo;
  outbox: Outbox;
  source: PrSource;
  forgeFor(installationId: number): Forge;
  /**
   * Builds the executor, secrets service and redactor of one run. `config` is the combined
   * definition, whose secret sets come from the base commit only.
   */
  runnerFor(config: Config, jobs: PlannedJob[], run?: RunFacts): Promise<RunnerForRun>;
  publicUrl?: string;
  /** The forge's web address, for links in notices (https://github.com). */
  webUrl?: string;
  /** How often due approval reminders are looked for (default: every minute). */
  remindEveryMs?: number;
  /** Jobs and runs at once, and each pull request's and author's share (DEFAULT_CAPACITY). */
  capacity?: Capacity;
  /** Jobs at once within a run (default: capacity.jobsPerRun). */
  concurrency?: number;
  /** Runs at once, every gateway sharing the store together (default: capacity.runs). */
  maxRuns?: number;
  /** Attempts in all of a run whose execution fails (throws); a lost gateway spends none. */
  maxAttempts?: number;
  /** A run whose gateway died under it this many times is given up (default 5). */
  maxLost?: number;
  /** Trust answers per installation (shared with the console). */
  trust: TrustRegistry;
  log?: FlowLogger;
}

/** The services every use case calls: the options, plus what the flow builds once. */
export interface Flow {
  o: FlowOptions;
  reporter: Reporter;
  supervisor: Supervisor;
  /** The gateway's job slots, shared by every run. */
  share: FairShare;
  forge(installationId: number): Forge;
  trustOf(installationId: number): TrustEvaluator;
  /** The base commit's definition (null: it has none); throws ConfigError when it is invalid. */
  baseConfig(repo: string, installationId: number, baseSha: string): Promise<Config | null>;
  /** Parses a pipeline file off the event loop; rejects with its ConfigError. */
  parseConfig(text: string, file: string): Promise<Config>;
  /** What the PR's head changes against `base` (the PR's base commit unless given). */
  changes(f: PrFacts, base?: string): Promise<Comparison>;
}

/** The facts about a PR every decision starts from, read from the API (not the event). */
export interface PrFacts {
  repo: string;
  installationId: number;
  number: number;
  headSha: string;
  baseSha: string;
  headRef: string;
  /** Where the head branch lives; null when the fork was deleted (or unknown: a stored request). */
  headRepo: HeadRepo | null;
  author: Actor;
  /** The PR's title (the author's text); unknown for a stored request. */
  title?: string;
  draft: boolean;
  open: boolean;
  labels: string[];
  /** The base branch; known from a fresh read of the pull request. */
  baseRef?: string;
  /** The head lives in another repository than the base (a fork, or a deleted one). */
  fork?: boolean;
}

/** The PR's trusted base definition, combined with its head's public jobs. */
export interface Loaded {
  base: Config;
  defs: Definitions;
  restricted: string[];
}

export type PrEvent = Extract<GatewayEvent, { kind: "pull_request" }>;
export type CommentEvent = Extract<GatewayEvent, { kind: "pr_comment" }>;
export type RerequestEvent = Extract<GatewayEvent, { kind: "check_run_rerequested" }>;
export type MembershipEvent = Extract<GatewayEvent, { kind: "membership" }>;

/** One use case: what the flow does with one kind of event. */
export type UseCase<E extends GatewayEvent> = (
  flow: Flow,
  event: E,
  ctx: HandlerContext,
) => Promise<void>;

export const short = (sha: string) => sha.slice(0, 12);
