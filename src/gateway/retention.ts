// Retention: how long finished deliveries, outbox items, check-run ids, runs and their logs are
// kept (the serve config's `retention:` block, with defaults), and the chore that prunes them: on
// one gateway at a time (an advisory lock on PostgreSQL), every `interval`, and on demand with
// `airlock prune`. Logs are files in each gateway's data directory: every gateway removes the logs
// of runs the database no longer has.
import { readdir, rm, stat } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import type { PruneCounts, RetentionPolicy, Store } from "../store/index.js";
import { settingDurationMs } from "./serve-settings.js";

const DAY = 24 * 3600_000;

/** What is kept when the serve config says nothing. */
export const DEFAULT_RETENTION: RetentionPolicy & { intervalMs: number } = {
  deliveries: 30 * DAY,
  outbox: 30 * DAY,
  checkRuns: 90 * DAY,
  runs: 90 * DAY,
  intervalMs: 3600_000,
};

/**
 * The shortest each may be: a delivery GitHub redelivers (for days after) must still be known as
 * one, and an outbox key must still be known when the event that made it is processed again.
 */
const MINIMUM: Record<keyof RetentionPolicy, number> = {
  deliveries: 7 * DAY,
  outbox: 7 * DAY,
  checkRuns: DAY,
  runs: DAY,
};

const keep = z.string().min(1);

/** The serve config's `retention:` block: a duration ("30d", "12h") or "forever". */
export const retentionSchema = z
  .object({
    deliveries: keep.optional(),
    outbox: keep.optional(),
    check_runs: keep.optional(),
    runs: keep.optional(),
    /** How often the prune runs ("1h"). */
    interval: keep.optional(),
  })
  .strict();

export type RetentionBlock = z.infer<typeof retentionSchema>;
export type Retention = RetentionPolicy & { intervalMs: number };

/** The policy from the block and the defaults; throws a message naming the key and the fix. */
export function resolveRetention(block: RetentionBlock = {}): Retention {
  const read = (key: keyof RetentionBlock, fallback: number | null, min: number) => {
    const raw = block[key];
    if (raw === undefined) return fallback;
    if (raw === "forever" && key !== "interval") return null;
    const ms = settingDurationMs(raw);
    if (ms === null) {
      throw new Error(
        `retention.${key} must be a duration such as "30d" or "12h"${key === "interval" ? "" : ', or "forever"'}`,
      );
    }
    if (ms < min) {
      const least = min >= DAY ? `${min / DAY}d` : `${min / 60_000}m`;
      throw new Error(`retention.${key} must be at least ${least} (${raw} is shorter)`);
    }
    return ms;
  };
  return {
    deliveries: read("deliveries", DEFAULT_RETENTION.deliveries, MINIMUM.deliveries),
    outbox: read("outbox", DEFAULT_RETENTION.outbox, MINIMUM.outbox),
    checkRuns: read("check_runs", DEFAULT_RETENTION.checkRuns, MINIMUM.checkRuns),
    runs: read("runs", DEFAULT_RETENTION.runs, MINIMUM.runs),
    intervalMs: read("interval", DEFAULT_RETENTION.intervalMs, 60_000) as number,
  };
}

/** Log directories younger than this are left alone: their run may not be stored yet. */
const LOG_GRACE_MS = 3600_000;

/** Removes the log directories of runs the database no longer has; how many. */
export async function pruneLogs(store: Store, dataDir: string, now = Date.now()): Promise<number> {
  const dir = path.join(dataDir, "logs");
  const names = await readdir(dir).catch(() => [] as string[]);
  const existing = await store.retention.existing(names);
  let n = 0;
  for (const name of names.filter((x) => !existing.has(x))) {
    const at = path.join(dir, name);
    const s = await stat(at).catch(() => undefined);
    if (!s?.isDirectory() || now - s.mtimeMs < LOG_GRACE_MS) continue;
    await rm(at, { recursive: true, force: true });
    n++;
  }
  return n;
}

export type PruneOutcome = { ran: false } | { ran: true; counts: PruneCounts; logs: number };

/** One prune: the database's part unless another process is at it, then this data directory's logs. */
export async function prune(
  store: Store,
  dataDir: string,
  policy: RetentionPolicy,
  now = Date.now(),
): Promise<PruneOutcome> {
  const r = await store.leases.singleton("retention", () => store.retention.prune(policy, now));
  if (!r.ran) return r;
  return { ran: true, counts: r.value, logs: await pruneLogs(store, dataDir, now) };
}

export interface RetentionLogger {
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
}

/** The periodic prune of `airlock serve`: first a minute after the start, then every interval. */
export class RetentionChore {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(
    private readonly o: {
      store: Store;
      dataDir: string;
      retention: Retention;
      log?: RetentionLogger;
      /** The first prune after the start (default a minute). */
      firstMs?: number;
    },
  ) {}

  start(): void {
    this.schedule(this.o.firstMs ?? 60_000);
  }

  private schedule(ms: number): void {
    this.timer = setTimeout(() => {
      this.running = this.runOnce().finally(() => {
        this.running = undefined;
        if (this.timer) this.schedule(this.o.retention.intervalMs);
      });
    }, ms);
    this.timer.unref();
  }

  /** One prune now; its outcome is logged, a failure too (the next interval tries again). */
  async runOnce(): Promise<PruneOutcome | undefined> {
    const { log } = this.o;
    try {
      const r = await prune(this.o.store, this.o.dataDir, this.o.retention);
      if (r.ran) {
        const { runIds, ...counts } = r.counts;
        log?.info({ ...counts, logs: r.logs }, "retention: pruned");
      } else log?.info({}, "retention: another gateway is pruning; skipped");
      return r;
    } catch (e) {
      log?.warn({ message: e instanceof Error ? e.message : String(e) }, "retention: prune failed");
      return undefined;
    }
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
