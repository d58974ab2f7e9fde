// The GitLab pipeline executor: the restricted part of a run as one private GitLab pipeline.
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
export {
  EmptySelectionError,
  type GitLabExecutorOptions,
  GitLabPipelineExecutor,
  type PipelineExecutor,
  type RestrictedRunRequest,
  type RestrictedRunResult,
} from "./executor.js";
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
