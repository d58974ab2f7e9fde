import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { parse, stringify } from "yaml";
import { configJsonSchema } from "../../src/config/jsonschema.js";
import { parseConfig } from "../../src/config/loader.js";

const doc = readFileSync(new URL("../../docs/configuration.md", import.meta.url), "utf8");

/** Every field name the schema knows, with where it sits ("jobs.*.needs"). */
function fields(schema: unknown, path = ""): [string, string][] {
  if (typeof schema !== "object" || schema === null) return [];
  const s = schema as Record<string, unknown>;
  const out: [string, string][] = [];
  if (typeof s.properties === "object" && s.properties !== null) {
    for (const [k, v] of Object.entries(s.properties)) {
      const at = path ? `${path}.${k}` : k;
      out.push([k, at], ...fields(v, at));
    }
  }
  if (typeof s.additionalProperties === "object")
    out.push(...fields(s.additionalProperties, `${path}.*`));
  if (s.items) out.push(...fields(s.items, `${path}[]`));
  for (const k of ["anyOf", "oneOf", "allOf"]) {
    if (Array.isArray(s[k])) for (const x of s[k]) out.push(...fields(x, path));
  }
  return out;
}

describe("docs/configuration.md", () => {
  it("documents every field of the schema", () => {
    const all = fields(configJsonSchema());
    assert.ok(all.length > 40, "the walk found the schema's fields");
    const missing = all.filter(([name]) => !doc.includes(`\`${name}\``)).map(([, at]) => at);
    assert.deepEqual(
      missing,
      [],
      `fields missing from docs/configuration.md: ${missing.join(", ")}`,
    );
  });

  it("has examples the loader accepts", () => {
    const blocks = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);
    assert.ok(blocks.length >= 8);
    // The first is a whole file; the others are fragments, completed with what they refer to.
    parseConfig(blocks[0]!, "docs/configuration.md");
    for (const block of blocks.slice(1)) {
      const fragment = parse(block) as Record<string, unknown>;
      const full = {
        version: 1,
        jobs: { placeholder: { run: "true" } },
        ...fragment,
        secrets: {
          "preview-deploy": {},
          "suite-token": {},
          ...(fragment.secrets as object | undefined),
        },
      };
      assert.doesNotThrow(() => parseConfig(stringify(full), "fragment.yml"), block);
    }
  });
});
