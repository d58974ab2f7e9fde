// Where a job runs, for jobs that hold ID tokens: they are restricted like jobs with secrets (so
// the GitLab executor, which runs restricted jobs only, takes them: its jobs ask the job API for
// their tokens), and abandoned work of such a job on a cluster is swept.
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { after, describe, test } from "node:test";
import { parseConfig } from "../../src/config/loader.js";
import { createExecutors } from "../../src/executors/registry.js";
import { executorSelector, sweepers } from "../../src/executors/select.js";
import { JobApi } from "../../src/jobapi/job-api.js";
import { expandJobs } from "../../src/pipeline/expand.js";
import { tempDir } from "./local/helpers.js";

const PIPELINE = `version: 1
secrets:
  gitlab: {}
  cloud: {}
executor:
  gitlab: { url: https://gitlab.example.com, project: team/functional-tests, secrets: gitlab }
jobs:
  unit:
    run: "true"
  functional:
    secrets: [cloud]
    run: "true"
  deploy:
    id_tokens:
      CLOUD_ID_TOKEN: { aud: sts.amazonaws.com }
    run: "true"
  deploy-here:
    executor: local
    id_tokens:
      CLOUD_ID_TOKEN: { aud: sts.amazonaws.com }
    run: "true"
`;

describe("executor selection for jobs with id_tokens", () => {
  const config = parseConfig(PIPELINE, ".airlock.yml");
  const jobs = Object.fromEntries(expandJobs(config).map((j) => [j.id, j]));
  const t = tempDir("airlock-select-test-");
  const executors = createExecutors({ config, dataDir: t.dir });
  const pick = executorSelector(config, executors, { authorized: true });
  after(() => t.cleanup());

  test("a job with only id_tokens is restricted: it goes where restricted jobs go", () => {
    assert.equal(pick(jobs.functional!).name, "gitlab");
    assert.equal(pick(jobs.deploy!).name, "gitlab");
    assert.equal(pick(jobs["deploy-here"]!).name, "local");
    assert.equal(pick(jobs.unit!).name, "local");
    const forced = executorSelector(config, executors, {
      authorized: true,
      override: { restricted: "local" },
    });
    assert.equal(forced(jobs.deploy!).name, "local");
  });

  test("abandoned work of a job with only id_tokens is swept on its cluster", () => {
    const cluster = parseConfig(
      `version: 1
jobs:
  unit:
    executor: cluster
    run: "true"
  deploy:
    executor: cluster
    id_tokens:
      CLOUD_ID_TOKEN: { aud: sts.amazonaws.com }
    run: "true"
`,
      ".airlock.yml",
    );
    const d = tempDir("airlock-select-test-");
    const keys = generateKeyPairSync("ed25519");
    const named = createExecutors({
      config: cluster,
      dataDir: d.dir,
      jobApi: new JobApi(keys),
      named: {
        cluster: {
          kind: "kubernetes",
          namespace: "ci",
          image: "docker.io/library/buildpack-deps:bookworm-curl",
          job_api_cidrs: [],
          resources: { cpu: "1", memory: "2Gi" },
          ttl_after_finished: "10m",
          schedule_timeout: "10m",
          poll_interval: "1s",
          forbid: [],
        },
      },
    });
    assert.deepEqual(
      sweepers(cluster, named).map((e) => e.name),
      ["cluster"],
    );
    d.cleanup();
  });
});
