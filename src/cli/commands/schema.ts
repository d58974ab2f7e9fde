// `airlock schema`: the JSON Schema of .airlock.yml, for editor completion and validation.
import type { Command } from "commander";
import { configJsonSchema } from "../../config/jsonschema.js";

export function registerSchema(program: Command): void {
  program
    .command("schema")
    .description(
      "Print the JSON Schema of .airlock.yml (e.g. `airlock schema > airlock.schema.json` for your editor)",
    )
    .action(() => {
      process.stdout.write(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
    });
}
