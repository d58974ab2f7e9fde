// The example project (examples/deploy-engine) through `airlock run` with its jobs on the
// Kubernetes executor against the double: first its public jobs (`--executor public=…`), then
// everything, restricted jobs included, whose pods fetch their secrets from the job API.
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { KubernetesDouble } from "../../doubles/kubernetes.js";
import { show } from "../../support/cli.js";
import { Project } from "../../support/project.js";

const EXAMPLE = fileURLToPath(new URL("../../../examples/deploy-engine/", import.meta.url));

function filesOf(dir: string, base = dir): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(dir)) {
    if (name === ".airlock" || name === "node_modules") continue;
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) Object.assign(out, filesOf(p, base));
    else out[path.relative(base, p)] = readFileSync(p, "utf8");
  }
  return out;
}

interface RunJson {
  status: string;
  notes: { executors?: Record<string, string[]> };
  jobs: { id: string; result: string }[];
}

let k8s: KubernetesDouble;
let p: Project;
let serveConfig: string;
before(async () => {
  k8s = await KubernetesDouble.start("ci-public");
  p = new Project({ files: filesOf(EXAMPLE) });
  serveConfig = path.join(p.root, "airlock-serve.yml");
  writeFileSync(
    serveConfig,
    `executors:
  public-pool:
    kind: kubernetes
    namespace: ci-public
    kubeconfig: ${k8s.kubeconfig()}
    job_api_cidrs: [127.0.0.1/32]
`,
  );
  for (const key of [
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "DIGITALOCEAN_TOKEN",
    "SCALEWAY_ACCESS_KEY",
    "SCALEWAY_SECRET_KEY",
  ]) {
    const r = await p.cli(["secrets", "set", "functional-tests", key], {
      stdin: `demo-${key}-0123456789abcdef`,
    });
    assert.equal(r.code, 0, show(r));
  }
});
after(async () => {
  await k8s.close();
  p.cleanup();
});

describe("the example project on the Kubernetes executor", () => {
  it("runs its public jobs as Kubernetes Jobs, all green", async () => {
    const r = await p.cli(
      ["run", "--json", "-c", serveConfig, "--executor", "public=public-pool"],
      {
        timeoutMs: 600_000,
      },
    );
    assert.equal(r.code, 0, show(r));
    const out = JSON.parse(r.stdout) as RunJson;
    assert.equal(out.status, "passed");
    assert.deepEqual(out.notes.executors?.["public-pool"], ["build-lint-unit", "security-audit"]);
    assert.equal(out.notes.executors?.local?.length, 9, "restricted jobs stayed local");
    assert.deepEqual(k8s.problems, []);
  });

  it("runs everything there, restricted jobs fetching their secrets from the job API", async () => {
    const before = k8s.jobs.size;
    const r = await p.cli(["run", "--json", "-c", serveConfig, "--executor", "public-pool"], {
      timeoutMs: 600_000,
    });
    assert.equal(r.code, 0, show(r));
    const out = JSON.parse(r.stdout) as RunJson;
    assert.equal(out.status, "passed");
    assert.equal(out.notes.executors?.["public-pool"]?.length, 11);
    assert.equal(k8s.jobs.size - before, 11, "one Job per job");
    for (const req of k8s.requests) {
      assert.ok(
        !JSON.stringify(req.body ?? "").includes("demo-AWS"),
        "no secret in any Kubernetes object",
      );
    }
    assert.deepEqual(k8s.problems, []);
  });
});
