// deploy/kubernetes: every manifest parses, matches the Kubernetes API's models as the official
// client generates them from its OpenAPI description (an unknown field or a wrong type fails, as
// the API server's strict validation does), and holds together: the Service and the disruption
// budget select the Deployment's pods, the probes hit /readyz and /healthz on the served port, every
// secret comes from a Secret reference (no value in the files), the environment names are ones
// Airlock reads, and the serve config in the ConfigMap is one `airlock serve` accepts.
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { parseAllDocuments } from "yaml";
import { loadServeConfig } from "../../src/gateway/serve-config.js";
import { validateModel } from "../doubles/kubernetes-api.js";

const DIR = path.join(import.meta.dirname, "..", "..", "deploy", "kubernetes");
const MODELS: Record<string, string> = {
  Deployment: "V1Deployment",
  Service: "V1Service",
  PodDisruptionBudget: "V1PodDisruptionBudget",
  ConfigMap: "V1ConfigMap",
  PersistentVolumeClaim: "V1PersistentVolumeClaim",
};

// biome-ignore lint/suspicious/noExplicitAny: manifests as parsed YAML, read field by field
type Manifest = Record<string, any>;

function manifests(): Manifest[] {
  return readdirSync(DIR)
    .filter((f) => f.endsWith(".yaml") && f !== "kustomization.yaml")
    .flatMap((f) =>
      parseAllDocuments(readFileSync(path.join(DIR, f), "utf8")).map((d) => {
        assert.deepEqual(d.errors, [], f);
        return d.toJS() as Manifest;
      }),
    );
}

test("each manifest matches its Kubernetes model", () => {
  const all = manifests();
  assert.deepEqual(all.map((m) => m.kind).sort(), Object.keys(MODELS).sort());
  for (const m of all) {
    assert.deepEqual(validateModel(m, MODELS[m.kind]!, m.kind), [], `${m.kind} ${m.metadata.name}`);
  }
  const kustomization = parseAllDocuments(
    readFileSync(path.join(DIR, "kustomization.yaml"), "utf8"),
  )[0]!.toJS() as Manifest;
  assert.deepEqual(
    [...kustomization.resources].sort(),
    readdirSync(DIR)
      .filter((f) => f.endsWith(".yaml") && f !== "kustomization.yaml")
      .sort(),
    "kustomization lists every manifest",
  );
});

test("the manifests hold together, and no secret value is written in them", () => {
  const all = manifests();
  const of = (kind: string) => all.find((m) => m.kind === kind)!;
  const deployment = of("Deployment");
  const pod = deployment.spec.template;
  const labels = pod.metadata.labels;
  const selects = (sel: Record<string, string>) =>
    Object.entries(sel).every(([k, v]) => labels[k] === v);
  assert.ok(selects(deployment.spec.selector.matchLabels), "the Deployment selects its pods");
  assert.ok(selects(of("Service").spec.selector), "the Service selects the pods");
  assert.ok(selects(of("PodDisruptionBudget").spec.selector.matchLabels), "so does the budget");
  assert.ok(
    of("PodDisruptionBudget").spec.minAvailable < deployment.spec.replicas,
    "a drain can move a replica",
  );

  const [c] = pod.spec.containers;
  const port = c.ports.find((p: Manifest) => p.name === of("Service").spec.ports[0].targetPort);
  assert.ok(port, "the Service targets the container's named port");
  assert.equal(c.args[c.args.indexOf("--listen") + 1], `0.0.0.0:${port.containerPort}`);
  assert.deepEqual(c.readinessProbe.httpGet, { path: "/readyz", port: port.name });
  assert.deepEqual(c.livenessProbe.httpGet, { path: "/healthz", port: port.name });

  // Secrets only by reference, to one Secret: no variable that names a secret holds a value.
  const env = new Map<string, Manifest>(c.env.map((e: Manifest) => [e.name, e]));
  for (const [name, e] of env) {
    if (/KEY|SECRET|PASSWORD|TOKEN/.test(name) && !name.endsWith("_FILE")) {
      assert.equal(e.value, undefined, `${name} has no value in the file`);
      assert.equal(e.valueFrom?.secretKeyRef?.name, "airlock-keys", name);
    }
  }
  const keys = pod.spec.volumes.find((v: Manifest) => v.secret);
  assert.equal(keys.secret.secretName, "airlock-keys");
  assert.ok(keys.secret.defaultMode <= 0o600, "key files are private");
  const docs = readFileSync(path.join(DIR, "..", "..", "docs", "operations.md"), "utf8");
  const secretKeys = [
    ...[...env.values()].flatMap((e) => e.valueFrom?.secretKeyRef?.key ?? []),
    ...keys.secret.items.map((i: Manifest) => i.key),
  ];
  for (const k of secretKeys) assert.ok(docs.includes(`--from-file=${k}=`), `docs: ${k}`);
  assert.ok(docs.includes("deploy/kubernetes"), "docs/operations.md points at the manifests");

  // The dispatch key lands where Airlock reads it, in the data directory.
  const home = env.get("AIRLOCK_HOME")?.value;
  assert.ok(
    c.volumeMounts.some((m: Manifest) => m.mountPath === `${home}/dispatch-ed25519.pem`),
    "the dispatch key in the data directory",
  );
  assert.ok(
    c.volumeMounts.some((m: Manifest) => m.mountPath === `${home}/logs`),
    "a shared logs directory",
  );
});

test("the ConfigMap's serve config is one airlock serve accepts", () => {
  const cm = manifests().find((m) => m.kind === "ConfigMap")!;
  const dir = mkdtempSync(path.join(os.tmpdir(), "airlock-k8s-"));
  try {
    // The Secret's files, where the pod mounts them (here under the test's directory).
    const keys = path.join(dir, "keys");
    mkdirSync(keys);
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    writeFileSync(
      path.join(keys, "github-app.pem"),
      privateKey.export({ type: "pkcs1", format: "pem" }),
      { mode: 0o600 },
    );
    writeFileSync(path.join(keys, "webhook-secret"), "s3cret\n", { mode: 0o600 });
    const file = path.join(dir, "serve.yml");
    writeFileSync(file, cm.data["serve.yml"].replaceAll("/etc/airlock/keys", keys));
    const config = loadServeConfig({
      file,
      projectDir: dir,
      env: { AIRLOCK_HOME: path.join(dir, "data") },
    });
    assert.equal(config.appId, 123456);
    assert.deepEqual(config.webhookSecrets, ["s3cret"]);
    assert.match(config.database?.url ?? "", /^postgres:\/\/airlock@/);
    assert.equal(config.database?.leaseTtlMs, 30_000);
    assert.equal(config.limits.capacity.jobs, 4);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
