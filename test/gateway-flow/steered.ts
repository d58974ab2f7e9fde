// A pipeline whose restricted jobs the head commit steers through files, for tests of what
// Airlock does to jobs that hang or fail: `slow` names the provider whose job hangs (or `all`),
// `fail` the one that fails; a CLOUD_TOKEN of "expired" fails every restricted job.
import { readdirSync, readFileSync } from "node:fs";

/** The pipeline; its hanging jobs run `sleep <sleep>`, an argument no other process uses. */
export function steeredPipeline(sleep: string): string {
  return `version: 1
secrets:
  cloud:
    backend: embedded
trust:
  orgs: [acme]
jobs:
  unit:
    run: echo "unit ok"
  functional:
    needs: [unit]
    matrix:
      provider: [aws, scw]
    name: \${provider}
    tags: ["\${provider}"]
    secrets: [cloud]
    run: |
      echo "token is $CLOUD_TOKEN"
      slow="$(cat slow 2>/dev/null || true)"
      if [ "$slow" = "$provider" ] || [ "$slow" = all ]; then sleep ${sleep}; fi
      if [ "$(cat fail 2>/dev/null || true)" = "$provider" ]; then exit 1; fi
      if [ "$CLOUD_TOKEN" = "expired" ]; then exit 1; fi
`;
}

/** Processes still running `sleep <sleep>` (a killed job leaves none). */
export function sleepers(sleep: string): number {
  let n = 0;
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
      if (argv[0]?.endsWith("sleep") && argv[1] === sleep) n++;
    } catch {
      // The process ended while we looked.
    }
  }
  return n;
}
