// The CI/CD variables Airlock sends with a triggered pipeline. The private pipeline must
// treat all of them as untrusted until `airlock verify-dispatch` has checked AIRLOCK_DISPATCH.
export const GITLAB_VARIABLES = {
  /** Selected tests, comma-separated (the seed's format). */
  tests: "AIRLOCK_TESTS",
  /** Selected tests as a JSON array of strings. */
  testsJson: "AIRLOCK_TESTS_JSON",
  /** Source repository, "owner/name". */
  repo: "AIRLOCK_SOURCE_REPO",
  /** Clone URL of the source repository. */
  repoUrl: "AIRLOCK_SOURCE_URL",
  /** Branch of the pull request (display only: the SHA is what is tested). */
  branch: "AIRLOCK_SOURCE_BRANCH",
  sha: "AIRLOCK_SOURCE_SHA",
  suiteRef: "AIRLOCK_SUITE_REF",
  suiteSha: "AIRLOCK_SUITE_SHA",
  runId: "AIRLOCK_RUN_ID",
  /** The signed dispatch token. */
  dispatch: "AIRLOCK_DISPATCH",
  /**
   * Where a job declaring `id_tokens` asks for them: GET it with `?audience=NAME`, the dispatch
   * token as the Bearer token and the job's CI_JOB_TOKEN in the JOB-TOKEN header. A URL, never a
   * credential: no token is ever a pipeline variable.
   */
  idTokenUrl: "AIRLOCK_ID_TOKEN_REQUEST_URL",
} as const;
