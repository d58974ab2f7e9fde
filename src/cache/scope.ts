// Who may read and write which cache entries (docs/security.md, "Caches"). Entries live in
// namespaces per repository:
//   trusted        saved by public jobs of trusted runs (the default branch, a local run)
//   trusted-secret:<sets>  saved by restricted jobs of trusted runs holding exactly those secret
//                  sets: they may hold what a secret left behind, so only such jobs read them
//   pr-<n>         saved by public jobs of pull request n (untrusted code)
// A public job never reads a restricted job's entries (a secret could sit in ~/.npm); a
// restricted job never reads a pull request's (poisoning); a pull request never writes where
// anyone else reads.

export interface CacheTrust {
  /** Source repository ("owner/name", or the local project's name). */
  repo: string;
  /** The run's code is trusted: a local run, or the default branch run by the gateway. */
  trusted: boolean;
  /** The pull request the run is for, when it is one. */
  pr: number | null;
}

export interface CacheScope {
  /** Namespaces a restore looks in, in order. */
  reads: string[];
  /** Where a save goes; null: this job saves nothing, and `why` says so. */
  writes: string | null;
  why?: string;
}

/**
 * The scope of one job. `credentials` names what the job holds (its secret sets, and "oidc" for
 * ID tokens); empty for a public job.
 */
export function cacheScope(t: CacheTrust, credentials: string[]): CacheScope {
  const ns = (name: string) => `${t.repo}/${name}`;
  const secret = ns(`trusted-secret:${[...new Set(credentials)].sort().join("+")}`);
  const restricted = credentials.length > 0;
  if (t.trusted && t.pr === null) {
    return restricted
      ? { reads: [secret, ns("trusted")], writes: secret }
      : { reads: [ns("trusted")], writes: ns("trusted") };
  }
  const pr = t.pr === null ? ns("untrusted") : ns(`pr-${t.pr}`);
  if (restricted) {
    return {
      reads: [secret, ns("trusted")],
      writes: null,
      why: "a restricted job of an untrusted run saves no cache (no job may restore it)",
    };
  }
  return { reads: [pr, ns("trusted")], writes: pr };
}
