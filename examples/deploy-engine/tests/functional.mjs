// Functional test of one provider × kind: deploys a stack to the provider's API with the
// credentials from the environment, checks it converged, updates it, destroys it, and
// writes a JUnit report.
import { mkdirSync, writeFileSync } from "node:fs";
import { apply, plan } from "../src/plan.mjs";
import { CREDENTIALS, client, startCloud } from "./cloud.mjs";

const [provider, kind] = process.argv.slice(2);
const [idVar, secretVar] = CREDENTIALS[provider] ?? [];
if (!idVar) throw new Error(`unknown provider ${provider}`);
const keyId = process.env[idVar];
const secret = process.env[secretVar];
if (!keyId || !secret) {
  console.error(`missing credentials: set ${idVar} and ${secretVar} (secret set functional-tests)`);
  process.exit(2);
}

const STACKS = {
  infra: [
    { name: "network", spec: { cidr: "10.0.0.0/16" } },
    { name: "subnet-a", spec: { cidr: "10.0.1.0/24" } },
    { name: "instance", spec: { size: "small", image: "debian-12" } },
  ],
  "self-hosted": [
    { name: "instance", spec: { size: "medium" } },
    { name: "volume", spec: { gb: 20 } },
    { name: "app", spec: { replicas: 2, version: "1.4.0" } },
  ],
  "managed-services": [
    { name: "database", spec: { engine: "postgres", version: 16 } },
    { name: "cache", spec: { engine: "redis" } },
    { name: "bucket", spec: { versioning: true } },
  ],
};

const cloud = await startCloud({ keyId, secret });
const api = client(`http://127.0.0.1:${cloud.address().port}`, keyId, secret);
// A careless debug line of the kind real suites print: Airlock masks the value.
console.log(`authenticating to ${provider} as ${keyId}`);

const cases = [];
async function step(name, fn) {
  const start = performance.now();
  try {
    await fn();
    cases.push({ name, time: performance.now() - start });
    console.log(`ok   ${name}`);
  } catch (e) {
    cases.push({ name, time: performance.now() - start, failure: e.message });
    console.log(`FAIL ${name}: ${e.message}`);
  }
}

const stack = STACKS[kind];
await step("deploy", async () => {
  await apply(plan(stack, await api.list()), api);
});
await step("converged", async () => {
  const steps = plan(stack, await api.list());
  if (steps.length) throw new Error(`still ${steps.length} steps to apply`);
});
await step("update", async () => {
  const changed = stack.map((r, i) => (i === 0 ? { ...r, spec: { ...r.spec, tag: "v2" } } : r));
  const steps = plan(changed, await api.list());
  if (steps.length !== 1 || steps[0].op !== "update") throw new Error("expected one update");
  await apply(steps, api);
});
await step("destroy", async () => {
  await apply(plan([], await api.list()), api);
  if ((await api.list()).length) throw new Error("resources left behind");
});
await step("rejects a forged signature", async () => {
  const forged = client(`http://127.0.0.1:${cloud.address().port}`, keyId, "not-the-secret");
  await forged.list().then(
    () => Promise.reject(new Error("a forged request was accepted")),
    (e) => (/401/.test(e.message) ? undefined : Promise.reject(e)),
  );
});
cloud.close();

const esc = (s) => s.replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`);
const failures = cases.filter((c) => c.failure).length;
mkdirSync("reports", { recursive: true });
writeFileSync(
  "reports/functional.xml",
  `<?xml version="1.0"?>\n<testsuite name="${provider}-${kind}" tests="${cases.length}" failures="${failures}">\n${cases
    .map(
      (c) =>
        `  <testcase classname="${provider}.${kind}" name="${esc(c.name)}" time="${(c.time / 1000).toFixed(3)}">${
          c.failure ? `<failure message="${esc(c.failure)}"/>` : ""
        }</testcase>`,
    )
    .join("\n")}\n</testsuite>\n`,
);
process.exit(failures ? 1 : 0);
