// The GitLab executor: a run's jobs on it as one pipeline of a private GitLab project.
export {
  type AbandonedPipeline,
  cancelAbandonedPipelines,
  PipelineCancelError,
} from "./abandoned.js";
export {
  GitLabApiError,
  GitLabClient,
  type GitLabClientOptions,
  type GitLabJob,
  type GitLabPipeline,
  GitLabUnavailableError,
  GitLabUncertainError,
  type PipelineQuery,
  projectSegment,
} from "./client.js";
export {
  type GitLabExecutorConfig,
  GitLabExecutorSchema,
  type GitLabTokens,
  gitlabTokensFromSecretEnv,
} from "./config.js";
export { GitLabExecutor, type GitLabExecutorOptions } from "./executor.js";
export {
  EmptySelectionError,
  GitLabPipelines,
  type GitLabPipelinesOptions,
  type RestrictedRunRequest,
  type RestrictedRunResult,
} from "./pipeline.js";
export {
  GITLAB_STATUSES,
  type GitLabStatus,
  jobOutcome,
  mapToSelectedJobs,
  type PipelineJobResult,
  pipelineOutcome,
  pipelinePhase,
} from "./status.js";
export { GITLAB_VARIABLES } from "./variables.js";
