// A job's artifacts as the runner hands them to an executor: what needed jobs kept, received
// before the job starts, and the job's own `artifacts:`, kept after it ends.
import type { JobArtifacts, JobSpec } from "../executors/types.js";
import { credentialsOf } from "../executors/types.js";
import type { Redactor } from "../redact/types.js";
import { keepArtifacts } from "./keep.js";
import { receiveArtifacts } from "./receive.js";
import { artifactRefusal } from "./scope.js";
import type { ArtifactStore } from "./store.js";

export interface RunArtifacts {
  store: ArtifactStore;
  runId: string;
  /** The run's code is trusted (a local run, the default branch): see scope.ts. */
  trusted: boolean;
  /** The run's jobs by id, to know which needed ones keep artifacts. */
  jobs: Map<string, JobSpec>;
}

/** The hooks for `job`, or null when it neither keeps nor receives anything. */
export function jobArtifacts(
  run: RunArtifacts,
  job: JobSpec,
  needs: string[],
  redactor: Redactor,
  say: (line: string) => void,
): JobArtifacts | null {
  const producers = needs.filter((n) => (run.jobs.get(n)?.artifacts ?? []).length > 0);
  const patterns = job.artifacts ?? [];
  if (producers.length === 0 && patterns.length === 0) return null;
  const credentials = credentialsOf(job);
  return {
    receive: async (dir) => {
      for (const id of producers) {
        try {
          const m = await run.store.manifest(run.runId, id);
          if (!m) {
            say(`artifacts: ${id} kept no files (its log says why)`);
            continue;
          }
          const refused = artifactRefusal(m.credentials, credentials, run.trusted);
          if (refused) say(`artifacts: not received from ${id}: ${refused}`);
          else await receiveArtifacts(run.store, m, dir, say);
        } catch (e) {
          say(`artifacts: not received from ${id}: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
    },
    keep: async (dir, status) => {
      if (patterns.length === 0) return;
      // A cancelled job or one that could not run has nothing finished to keep.
      if (status !== "passed" && status !== "failed" && status !== "timed_out") return;
      await keepArtifacts(run.store, {
        runId: run.runId,
        jobId: job.id,
        credentials,
        root: dir,
        patterns,
        redactor,
        say,
      });
    },
  };
}
