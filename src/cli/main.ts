// The `airlock` command line: thin commands over the stage modules.
// Each file in ./commands registers one command (or a group) on the program.
import { Command, CommanderError } from "commander";
import { registerCommands } from "./commands/index.js";
import { UserError } from "./errors.js";

export async function main(argv: string[]): Promise<number> {
  const program = new Command("airlock")
    .description(
      "A CI gateway that runs secret-bearing jobs only for commits a trusted member vouched for.",
    )
    .version("0.1.0")
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  try {
    await registerCommands(program, argv);
    await program.parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (e) {
    // Usage mistakes (unknown option, missing argument) exit 2, like other CLI errors; help exits 0.
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    if (e instanceof UserError) {
      process.stderr.write(`airlock: ${e.message}\n`);
      return e.exitCode;
    }
    // An unexpected failure still gets one line, not a stack trace; AIRLOCK_DEBUG=1 shows it.
    const msg = e instanceof Error ? e.message : String(e);
    process.stderr.write(`airlock: unexpected error: ${msg}\n`);
    if (process.env.AIRLOCK_DEBUG) process.stderr.write(`${(e as Error)?.stack ?? ""}\n`);
    return 70;
  }
}
