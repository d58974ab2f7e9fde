// The example project (examples/deploy-engine) through `airlock run` with its jobs on the
// Kubernetes executor against the double: first its public jobs (`--executor public=…`), then
// everything, restricted jobs included, whose pods fetch their secrets from the job API, and
// deploy-identity its ID tokens (a fresh one and the issuer's keys from the job API too).
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
  run: string;
  status: string;
  notes: { executors?: Record<string, string[]> };
  jobs: { id: string; result: string }[];
}

let k8s: KubernetesDouble;
let p: Project;
let serveConfig: string;
/** deploy-identity's tokens name this issuer (`airlock run` signs with the data dir's keys). */
const run = (args: string[]) =>
  p.cli(["run", "--json", "-c", serveConfig, ...args], {
    env: p.env({ AIRLOCK_PUBLIC_URL: "https://ci.example.org" }),
    timeoutMs: 600_000,
  });
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
    poll_interval: 1s
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
    const r = await run(["--executor", "public=public-pool"]);
    assert.equal(r.code, 0, show(r));
    const out = JSON.parse(r.stdout) as RunJson;
    assert.equal(out.status, "passed");
    assert.deepEqual(out.notes.executors?.["public-pool"], ["build-lint-unit", "security-audit"]);
    assert.equal(out.notes.executors?.local?.length, 10, "restricted jobs stayed local");
    assert.deepEqual(k8s.problems, []);
  });

  it("runs everything there, restricted jobs fetching their secrets and ID tokens from the job API", async () => {
    const before = k8s.jobs.size;
    const r = await run(["--executor", "public-pool"]);
    assert.equal(r.code, 0, show(r));
    const out = JSON.parse(r.stdout) as RunJson;
    assert.equal(out.status, "passed");
    assert.equal(out.notes.executors?.["public-pool"]?.length, 12);
    assert.equal(k8s.jobs.size - before, 12, "one Job per job");
    for (const req of k8s.requests) {
      const body = JSON.stringify(req.body ?? "");
      assert.ok(!body.includes("demo-AWS"), "no secret in any Kubernetes object");
      assert.doesNotMatch(
        body,
        /eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+/,
        "no ID token (a JWT) in any object",
      );
    }
    assert.deepEqual(k8s.problems, []);
    // Its pod verified both tokens against the keys the job API served, and the token it
    // printed is masked.
    const log = (await p.logs(out.run))["deploy-identity"]!;
    assert.match(log, /^DEPLOY_ID_TOKEN: verified for deploy-engine-demo/m);
    assert.match(log, /^fresh token: verified for deploy-engine-registry/m);
    assert.match(log, /^token: \[redacted:[A-Za-z_]+\]$/m);
  });
});
