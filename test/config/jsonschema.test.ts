import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Ajv2020 } from "ajv/dist/2020.js";
import { Command } from "commander";
import { parse } from "yaml";
import { registerSchema } from "../../src/cli/commands/schema.js";
import { configJsonSchema } from "../../src/config/jsonschema.js";
import { SEED } from "./fixtures.js";

const validate = new Ajv2020({ strict: false, allErrors: true }).compile(configJsonSchema());

describe("configJsonSchema", () => {
  it("accepts the design's configuration sketch", () => {
    assert.ok(validate(parse(SEED)), JSON.stringify(validate.errors));
  });

  it("describes the input side: defaulted fields are optional", () => {
    assert.ok(validate({ version: 1, jobs: { a: { run: "x" } } }), JSON.stringify(validate.errors));
    type Obj = { required?: string[]; properties: Record<string, Obj & { description?: string }> };
    type Root = { properties: { jobs: { additionalProperties: Obj } } };
    const job = (configJsonSchema() as unknown as Root).properties.jobs.additionalProperties;
    assert.deepEqual(job.required, ["run"]);
    assert.equal(typeof job.properties.run?.description, "string", "editors show descriptions");
  });

  it("rejects what the loader rejects: unknown fields, wrong types, bad names, bad versions", () => {
    for (const bad of [
      { version: 1, jobs: { a: { run: "x", timout: "5m" } } },
      { version: 1, jobs: { a: { run: "x", needs: "b" } } },
      { version: 1, jobs: { "../a": { run: "x" } } },
      { version: 1, jobs: { a: { run: "x", timeout: "5 minutes" } } },
      { version: 2, jobs: { a: { run: "x" } } },
      { jobs: { a: { run: "x" } } },
    ]) {
      assert.equal(validate(bad), false, JSON.stringify(bad));
    }
  });

  it("returns a copy each time", () => {
    const a = configJsonSchema();
    a.title = "changed";
    assert.notEqual(configJsonSchema().title, "changed");
  });
});

describe("airlock schema", () => {
  it("prints the schema as JSON", async () => {
    const program = new Command("airlock").exitOverride();
    registerSchema(program);
    const chunks: string[] = [];
    const write = process.stdout.write;
    process.stdout.write = ((s: string) => {
      chunks.push(s);
      return true;
    }) as typeof process.stdout.write;
    try {
      await program.parseAsync(["node", "airlock", "schema"]);
    } finally {
      process.stdout.write = write;
    }
    assert.deepEqual(JSON.parse(chunks.join("")), configJsonSchema());
  });
});
