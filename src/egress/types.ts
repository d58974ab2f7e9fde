// What the rest of Airlock sees of egress: what a job declares, and what was recorded.
export type { ConnectionEntry, EgressRecord, Verdict } from "./record.js";

/**
 * `network: { allow, audit }` of a job: its only way out is an egress proxy that lets through the
 * hosts `allow` lists (all of them, recording the rest, under `audit`). Executors that cannot
 * enforce it must refuse the job (see Executor.egress).
 */
export interface EgressSpec {
  allow: string[];
  audit: boolean;
}
