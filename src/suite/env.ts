// What a restricted job learns about the suite it runs against.
import type { SuiteResolution } from "./resolve.js";

/** AIRLOCK_SUITE_* variables for a job; `dir` is the suite's path inside the sandbox. */
export function suiteJobEnv(suite: SuiteResolution, dir: string): Record<string, string> {
  return {
    AIRLOCK_SUITE_REF: suite.ref,
    AIRLOCK_SUITE_SHA: suite.sha,
    AIRLOCK_SUITE_MATCHED: suite.matched ? "true" : "false",
    AIRLOCK_SUITE_DIR: dir,
  };
}
