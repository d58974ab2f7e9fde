import type { Command } from "commander";

/** Every command of the CLI, in the order `airlock --help` lists them. */
export function registerCommands(program: Command): void {
  void program;
}
