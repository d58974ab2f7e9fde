// Who receives a needed job's artifacts (docs/security.md, "Artifacts"). Trust flows one way
// (DESIGN.md invariant 12):
// - a job that held secrets passes its files only to jobs holding at least the same
//   credentials: anything it left in them is already theirs, and their redactor masks it;
// - a public job of an untrusted run (a pull request) passes its files to public jobs only: it
//   ran the pull request's code, restored the pull request's own caches, and could have written
//   anything, so nothing of it reaches a job holding secrets.

/** Why `consumer` may not receive the files of a job that held `producer`, or null. */
export function artifactRefusal(
  producer: string[],
  consumer: string[],
  trustedRun: boolean,
): string | null {
  const missing = producer.filter((c) => !consumer.includes(c));
  if (missing.length > 0) {
    return `it held ${missing.join(", ")}, which this job does not: its files could carry them`;
  }
  if (producer.length === 0 && consumer.length > 0 && !trustedRun) {
    return "it is a public job of an untrusted run: its files never reach a job holding secrets";
  }
  return null;
}
