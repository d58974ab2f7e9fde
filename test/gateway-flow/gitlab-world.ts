// The world of the `executor.gitlab` flow tests: the GitLab double, and a World whose base
// pipeline sends its restricted jobs to it, with the GitLab tokens in the embedded store.
import { EmbeddedStore } from "../../src/secrets/embedded.js";
import { openStore } from "../../src/store/index.js";
import { GitLabDouble } from "../executors/gitlab/double.js";
import { World } from "./harness.js";

/** A public job, and a restricted matrix job that runs as one GitLab pipeline. */
export const GITLAB_PIPELINE = (gitlabUrl: string) => `version: 1
secrets:
  cloud:
    backend: embedded
  gitlab:
    backend: embedded
trust:
  orgs: [acme]
executor:
  gitlab:
    url: ${gitlabUrl}
    project: team/functional-tests
    ref: main
    secrets: gitlab
    poll_interval: 1s
jobs:
  unit:
    run: echo "unit ok, gitlab token \${GITLAB_API_TOKEN:-unset}"
  functional:
    needs: [unit]
    matrix:
      provider: [aws, scw]
    name: \${provider}
    tags: ["\${provider}"]
    secrets: [cloud]
    run: echo "never runs here"
`;

/** The double and the world, without a gateway: the caller starts it (in process or not). */
export async function gitlabWorld(
  triggerToken: string,
  apiToken: string,
): Promise<{ gl: GitLabDouble; w: World }> {
  const gl = await new GitLabDouble(triggerToken, apiToken).start();
  const w = await World.create(GITLAB_PIPELINE(gl.url), { server: false });
  const db = await openStore({ dataDir: w.dataDir, database: w.database });
  const store = new EmbeddedStore({ dataDir: w.dataDir, store: db });
  await store.set("gitlab", "GITLAB_TRIGGER_TOKEN", triggerToken, { actor: "test" });
  await store.set("gitlab", "GITLAB_API_TOKEN", apiToken, { actor: "test" });
  await db.close();
  return { gl, w };
}
