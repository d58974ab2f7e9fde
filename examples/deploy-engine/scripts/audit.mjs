// Checks the declared dependencies against a local advisory list (the registry's audit
// endpoint is not something a sandbox without network can reach).
import { readFileSync } from "node:fs";

const pkg = JSON.parse(readFileSync("package.json", "utf8"));
const advisories = JSON.parse(readFileSync("scripts/advisories.json", "utf8"));
const deps = { ...pkg.dependencies, ...pkg.devDependencies };
let found = 0;
for (const [name, range] of Object.entries(deps)) {
  for (const a of advisories.filter((x) => x.package === name)) {
    if (a.vulnerable.includes(range.replace(/^[\^~]/, ""))) {
      console.log(`${name}@${range}: ${a.id} ${a.title}`);
      found++;
    }
  }
}
console.log(
  `audit: ${Object.keys(deps).length} dependencies, ${advisories.length} advisories, ${found} found`,
);
process.exit(found > 0 ? 1 : 0);
