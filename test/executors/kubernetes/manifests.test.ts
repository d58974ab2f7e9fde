// A job's container gets the executor's resources, or the job's own resolved limits where they
// are lower: a server maximum (or a job's smaller limit) holds in the cluster as it does locally.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  jobManifest,
  podResources,
  quantity,
} from "../../../src/executors/kubernetes/manifests.js";
import { spec } from "./world.js";

const pool = { cpu: "2", memory: "4Gi" };

describe("Kubernetes pod resources", () => {
  it("reads the quantities the configuration allows", () => {
    assert.equal(quantity("500m"), 0.5);
    assert.equal(quantity("2"), 2);
    assert.equal(quantity("4Gi"), 4 * 2 ** 30);
    assert.equal(quantity("1.5G"), 1.5e9);
    assert.throws(() => quantity("lots"), /not a Kubernetes quantity: lots/);
  });

  it("takes a job's lower limits, and never more than the executor's", () => {
    assert.deepEqual(podResources(pool), pool);
    assert.deepEqual(podResources(pool, { memoryBytes: 2 ** 30, cpus: 0.5 }), {
      cpu: "500m",
      memory: String(2 ** 30),
    });
    assert.deepEqual(podResources(pool, { memoryBytes: 8 * 2 ** 30, cpus: 4 }), pool);
  });

  it("puts them in the Job's container as requests and limits", () => {
    const job = jobManifest({
      req: {
        runId: "run-1",
        job: spec("true", { limits: { memoryBytes: 256 * 2 ** 20, cpus: 1 } }),
        checkout: { kind: "dirty", dir: "/nonexistent" },
        workdir: "",
        env: {},
        secretEnv: {},
        secretFiles: [],
        mounts: [],
      },
      namespace: "ci",
      run: "run-1",
      image: "debian",
      jobApiUrl: "http://127.0.0.1:1",
      token: "t",
      resources: podResources(pool, { memoryBytes: 256 * 2 ** 20, cpus: 1 }),
      ttlSeconds: 60,
    });
    const resources = job.spec?.template.spec?.containers[0]?.resources;
    assert.deepEqual(resources?.limits, { cpu: "1000m", memory: String(256 * 2 ** 20) });
    assert.deepEqual(resources?.requests, resources?.limits);
  });
});
