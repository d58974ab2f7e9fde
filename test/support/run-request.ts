// A gateway run request for store and scheduling tests: PR 1 of o/r by carol unless told otherwise.
import type { NewRunRequest } from "../../src/store/types.js";

export const runRequest = (id: string, over: Partial<NewRunRequest> = {}): NewRunRequest => ({
  id,
  repo: "o/r",
  pr: 1,
  installationId: 9,
  headSha: "a".repeat(40),
  baseSha: "b".repeat(40),
  headRef: "feature",
  author: "carol",
  kind: "full",
  selection: null,
  requestedBy: over.author ?? "carol",
  ...over,
});

/** A public run of `pr` by `author`, queued at `at` (each PR on its own head). */
export const publicRunRequest = (id: string, pr: number, author: string, at: number) =>
  runRequest(id, { pr, author, kind: "public", headSha: `${pr}`.padStart(40, "a"), createdAt: at });
