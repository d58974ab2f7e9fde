// Revoking what a grant created (the job's token, dynamic-secret leases) when the job ends or its
// grant fails. Apart from the backend because a failure here is never dropped: each item is
// retried with backoff, and what is left is reported and thrown.
import type { GrantContext } from "../types.js";
import { VaultConfigError } from "./connection.js";
import { VaultError } from "./errors.js";
import type { WithLogin } from "./kv.js";

/** A failure to revoke what a grant created: the job's token or a lease outlived the job. */
export class VaultReleaseError extends Error {
  override name = "VaultReleaseError";
}

export interface Pending {
  kind: "token" | "lease";
  id: string;
  /** When a token expires by itself, for the report. */
  expiresAt?: number;
}

export interface ReleaseOptions {
  /** Attempts for each item before giving up and reporting. */
  attempts?: number;
  backoffMs?: number;
  /** Problems that must reach a human. Never values. */
  report?: (message: string) => void;
}

/**
 * Revokes every token and lease still pending, each retried with backoff. What cannot be
 * revoked is reported and thrown, never dropped; a later call retries only what is left.
 */
export async function releasePending(
  ctx: GrantContext,
  pending: Pending[],
  withLogin: WithLogin,
  o: ReleaseOptions,
): Promise<void> {
  const attempts = o.attempts ?? 4;
  const backoff = o.backoffMs ?? 250;
  const problems: string[] = [];
  // Leases first: they were taken with Airlock's token, not the job's.
  const order = [...pending].sort((a, b) => (a.kind === b.kind ? 0 : a.kind === "lease" ? -1 : 1));
  for (const item of order) {
    let last: unknown;
    for (let i = 0; i < attempts; i++) {
      try {
        await withLogin((c) =>
          item.kind === "token" ? c.revokeAccessor(item.id) : c.revokeLease(item.id),
        );
        last = undefined;
        break;
      } catch (e) {
        last = e;
        // Already gone (expired, used up, or revoked with its parent): nothing left to do.
        if (
          e instanceof VaultError &&
          e.status === 400 &&
          /invalid (accessor|lease)/i.test(e.message)
        ) {
          last = undefined;
          break;
        }
        if (e instanceof VaultConfigError) break;
        if (i < attempts - 1) await new Promise((r) => setTimeout(r, backoff * 2 ** i));
      }
    }
    if (last === undefined) {
      pending.splice(pending.indexOf(item), 1);
      continue;
    }
    const why = last instanceof Error ? last.message : String(last);
    problems.push(
      item.kind === "token"
        ? `the Vault token of job ${ctx.jobId} (accessor ${item.id}) after ${attempts} attempts: ${why}; it expires by itself at ${new Date(item.expiresAt ?? 0).toISOString()}; revoke it now with \`vault token revoke -accessor ${item.id}\``
        : `the Vault lease ${item.id} of job ${ctx.jobId} after ${attempts} attempts: ${why}; revoke it with \`vault lease revoke ${item.id}\``,
    );
  }
  if (problems.length) {
    const message = `could not revoke ${problems.join("; and ")}`;
    o.report?.(message);
    throw new VaultReleaseError(message);
  }
}
