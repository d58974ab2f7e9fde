// What the GitLab executor tests share: the GitLab double (started once per file, reset before
// each test), a dispatch key, an executor against the double, restricted-run requests with fresh
// run ids, and a run-request store on a throwaway data directory.
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, beforeEach } from "node:test";
import { signDispatch } from "../../../src/dispatch/index.js";
import {
  GitLabClient,
  GitLabPipelines,
  type GitLabPipelinesOptions,
  type RestrictedRunRequest,
} from "../../../src/executors/gitlab/index.js";
import { type NewRunRequest, openStore, type RunRequestQueue } from "../../../src/store/index.js";
import { GitLabDouble, type ScriptStep } from "./double.js";

const key = generateKeyPairSync("ed25519");
let seq = 0;

export interface GitLabFixture {
  /** The double (set once the file's `before` ran). */
  readonly gl: GitLabDouble;
  client(o?: { attempts?: number }): GitLabClient;
  executor(o?: { attempts?: number; poll?: GitLabPipelinesOptions["poll"] }): GitLabPipelines;
  /** A request with a fresh run id (run ids are unique, and the double keeps every pipeline). */
  request(over?: Partial<RestrictedRunRequest>): RestrictedRunRequest;
}

/**
 * Registers the file's hooks: the double starts before its tests, is reset before each (with
 * `script()` as the next pipelines' statuses) and stops after them.
 */
export function useGitLabDouble(o: {
  trigger: string;
  api: string;
  sha: string;
  script: () => ScriptStep[];
}): GitLabFixture {
  let gl: GitLabDouble | undefined;
  before(async () => {
    gl = await new GitLabDouble(o.trigger, o.api).start();
  });
  after(() => gl?.close());
  beforeEach(() => {
    gl!.reset();
    gl!.script = o.script();
  });
  const client = ({ attempts = 4 } = {}) =>
    new GitLabClient({
      baseUrl: gl!.url,
      project: "team/functional-tests",
      apiToken: o.api,
      retry: { attempts, baseDelayMs: 1, maxDelayMs: 5 },
    });
  return {
    get gl() {
      return gl!;
    },
    client,
    executor: ({ attempts, poll = { initialMs: 1, maxMs: 4 } } = {}) =>
      new GitLabPipelines({
        client: client(attempts === undefined ? {} : { attempts }),
        triggerToken: o.trigger,
        ref: "main",
        sign: (c) => signDispatch(c, key.privateKey),
        poll,
        lookupDelayMs: 1,
      }),
    request: (over = {}) => ({
      runId: `run-${++seq}`,
      repo: "example-org/engine",
      branch: "feature/dns",
      sha: o.sha,
      approver: "alice",
      tests: ["aws-infra", "do-managed"],
      labels: [],
      signal: new AbortController().signal,
      ...over,
    }),
  };
}

/** A gateway run request of PR `pr` on `sha` (everything but its id). */
export const runRequest = (pr: number, sha: string): Omit<NewRunRequest, "id"> => ({
  repo: "acme/app",
  pr,
  installationId: 1,
  headSha: sha,
  baseSha: "b".repeat(40),
  headRef: "feature",
  author: "alice",
  kind: "full",
  selection: null,
  requestedBy: "alice",
});

/** Runs `fn` with a run-request store on a fresh data directory, removed afterwards. */
export async function withRequestStore(fn: (store: RunRequestQueue) => Promise<void>) {
  const data = mkdtempSync(path.join(os.tmpdir(), "airlock-gitlab-requests-"));
  const db = await openStore({ dataDir: data });
  try {
    await fn(db.requests);
  } finally {
    await db.close();
    rmSync(data, { recursive: true, force: true });
  }
}
