// `npm run bench`: runs each benchmark, prints a table, writes JSON under bench/results/.
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import cache from "./cache.js";
import claims from "./claims.js";
import egress from "./egress.js";
import intake from "./intake.js";
import kubernetes from "./kubernetes.js";
import redactor from "./redactor.js";
import replicas from "./replicas.js";
import scheduler from "./scheduler.js";
import type { BenchResult } from "./types.js";

const benches: Record<string, () => Promise<BenchResult>> = {
  scheduler,
  redactor,
  intake,
  replicas,
  claims,
  kubernetes,
  egress,
  cache,
};

const only = process.argv.slice(2);
mkdirSync(path.join("bench", "results"), { recursive: true });
for (const [name, run] of Object.entries(benches)) {
  if (only.length > 0 && !only.includes(name)) continue;
  const result = await run();
  console.log(`\n== ${result.bench}`);
  for (const r of result.rows) {
    const ratio = r.ratio ? `  (${r.ratio.value.toFixed(2)}× ${r.ratio.against})` : "";
    console.log(`  ${r.name.padEnd(48)} ${r.value.toFixed(2).padStart(12)} ${r.unit}${ratio}`);
  }
  for (const n of result.notes ?? []) console.log(`  note: ${n}`);
  writeFileSync(
    path.join("bench", "results", `${name}.json`),
    `${JSON.stringify(result, null, 2)}\n`,
  );
}
