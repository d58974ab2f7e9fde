// `airlock mask`: the job-output redactor as a stdin→stdout filter, for other CI systems.
import type { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Command } from "commander";
import { createRedactor } from "../../redact/redactor.js";
import type { Redactor, RegisteredSecret } from "../../redact/types.js";
import { UserError } from "../errors.js";

export interface MaskDeps {
  /** Every live value of the named secret sets (from the secret store). */
  loadSetValues(setNames: string[]): Promise<RegisteredSecret[]>;
  stdin?: Readable;
  stdout?: Writable;
  stderr?: Writable;
  env?: NodeJS.ProcessEnv;
}

/** Filters `input` into `output` through the redactor. */
export async function maskStream(
  input: Readable,
  output: Writable,
  redactor: Redactor,
): Promise<void> {
  // process.stdout must stay open for whatever the CLI writes after this.
  await pipeline(input, redactor.stream(), output, { end: output !== process.stdout });
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const collect = (v: string, prev: string[]): string[] => [...prev, v];

/** Secrets named by `--from-env`: the value of each variable, named after it. */
export function valuesFromEnv(names: string[], env: NodeJS.ProcessEnv): RegisteredSecret[] {
  return names.map((name) => {
    if (!ENV_NAME.test(name)) {
      throw new UserError(
        `--from-env ${JSON.stringify(name)} is not an environment variable name; use letters, digits and _`,
      );
    }
    const value = env[name];
    if (value === undefined || value === "") {
      throw new UserError(
        `environment variable ${name} is not set or empty; export it before running airlock mask, or drop --from-env ${name}`,
      );
    }
    return { name, value };
  });
}

export function registerMask(program: Command, deps: MaskDeps): void {
  program
    .command("mask")
    .description(
      "Copy stdin to stdout with secret values (in all their encodings) and known token formats masked",
    )
    .option("--set <name>", "mask the values of this secret set (repeatable)", collect, [])
    .option(
      "--from-env <VAR>",
      "mask the value of this environment variable (repeatable)",
      collect,
      [],
    )
    .option("--min-length <n>", "refuse values shorter than this (default 6)")
    .option("--no-detectors", "do not mask known token formats (AWS keys, GitHub tokens, ...)")
    .action(
      async (o: { set: string[]; fromEnv: string[]; minLength?: string; detectors: boolean }) => {
        let minLength: number | undefined;
        if (o.minLength !== undefined) {
          minLength = Number(o.minLength);
          if (!Number.isInteger(minLength) || minLength < 1) {
            throw new UserError(
              `--min-length must be a whole number of at least 1, got ${JSON.stringify(o.minLength)}`,
            );
          }
        }
        const fromEnv = valuesFromEnv(o.fromEnv, deps.env ?? process.env);
        const fromSets = o.set.length > 0 ? await deps.loadSetValues(o.set) : [];
        const redactor = createRedactor({
          secrets: [...fromSets, ...fromEnv],
          minLength,
          detectors: o.detectors,
        });
        const stderr = deps.stderr ?? process.stderr;
        for (const w of redactor.warnings) stderr.write(`airlock: warning: ${w}\n`);
        await maskStream(deps.stdin ?? process.stdin, deps.stdout ?? process.stdout, redactor);
      },
    );
}
