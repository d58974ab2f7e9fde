// The JSON Schema of .airlock.yml, generated from the zod schema so the two cannot drift.
// Editors use it for completion and checks (`airlock schema > airlock.schema.json`).
import { z } from "zod";
import { ConfigSchema } from "./schema.js";

export const SCHEMA_ID = "https://airlock.dev/schema/airlock-v1.json";

let cached: Record<string, unknown> | undefined;

/** The schema of what a user writes (the input side: defaults are optional, values unconverted). */
export function configJsonSchema(): Record<string, unknown> {
  cached ??= {
    ...z.toJSONSchema(ConfigSchema, { io: "input", unrepresentable: "any" }),
    $id: SCHEMA_ID,
    title: "Airlock pipeline configuration (.airlock.yml)",
  };
  return structuredClone(cached);
}
