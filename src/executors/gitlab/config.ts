// `.airlock.yml` settings of the GitLab pipeline executor.
import type { z } from "zod";
import { GitLabExecutorSchema } from "../../config/executor-schema.js";

export { GitLabExecutorSchema };

export type GitLabExecutorConfig = z.infer<typeof GitLabExecutorSchema>;

export interface GitLabTokens {
  triggerToken: string;
  apiToken: string;
}

/** The two tokens from the secret set's granted environment. */
export function gitlabTokensFromSecretEnv(env: Record<string, string>): GitLabTokens {
  const triggerToken = env.GITLAB_TRIGGER_TOKEN;
  const apiToken = env.GITLAB_API_TOKEN;
  if (!triggerToken || !apiToken) {
    const missing = [
      !triggerToken && "GITLAB_TRIGGER_TOKEN",
      !apiToken && "GITLAB_API_TOKEN",
    ].filter(Boolean);
    throw new Error(
      `the GitLab secret set lacks ${missing.join(" and ")}: add it with \`airlock secrets set\``,
    );
  }
  return { triggerToken, apiToken };
}
