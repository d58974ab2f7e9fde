// The companion test-suite repository: branch matching, read-only checkout, mirroring.
export { checkoutSuite, type SuiteCheckout } from "./checkout.js";
export { suiteJobEnv } from "./env.js";
export { authFromSecretEnv, DEFAULT_GIT_USERNAME, type GitAuth, GitError } from "./git.js";
export {
  DEFAULT_MIRROR_TEMPLATE,
  deleteMirror,
  MirrorError,
  mirrorBranchName,
  mirrorRemote,
  pushMirror,
} from "./mirror.js";
export { type PreparedSuite, prepareSuite, resolveSuiteFor } from "./prepare.js";
export {
  assertBranchName,
  branchNameProblem,
  isFullSha,
  RefNameError,
  refNameProblem,
} from "./refname.js";
export {
  lsRemoteExact,
  resolveSuite,
  SuiteError,
  type SuiteResolution,
  type SuiteSource,
} from "./resolve.js";
