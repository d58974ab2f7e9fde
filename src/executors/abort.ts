// Why a run was stopped, carried as its AbortSignal's reason. A shutdown of Airlock is not a
// cancel: Airlock's own children (sandboxed jobs) are killed either way, but work that runs
// elsewhere (a GitLab pipeline) is left running on a shutdown and followed again after the
// restart, while a cancel (a user's, a newer push, a closed pull request) stops it.

/** The abort reason of a shutdown (a deploy, an upgrade, a service restart). */
export class ShutdownAbort extends Error {
  constructor() {
    super("Airlock is shutting down");
    this.name = "ShutdownAbort";
  }
}

/** True when `signal` was aborted by a shutdown rather than cancelled. */
export function isShutdown(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true && signal.reason instanceof ShutdownAbort;
}

/** True when an abort's reason is a shutdown (what a JobAttempt's cancel is given). */
export const isShutdownReason = (reason: unknown): boolean => reason instanceof ShutdownAbort;
