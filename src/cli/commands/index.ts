import type { Command } from "commander";

type Register = (program: Command) => void;

/**
 * Every command of the CLI, in the order `airlock --help` lists them. Each is imported only when
 * it is needed: a command's modules (the gateway, the web console, the store engines) cost most of
 * a short command's start-up time, so `airlock run` loads none of `airlock serve`'s.
 */
const COMMANDS: ReadonlyArray<[names: string[], load: () => Promise<Register>]> = [
  [["run"], async () => (await import("./run.js")).registerRun],
  [["runs"], async () => (await import("./runs.js")).registerRuns],
  [["logs"], async () => (await import("./logs.js")).registerLogs],
  [["serve"], async () => (await import("./serve.js")).registerServe],
  [["app"], async () => (await import("./app.js")).registerApp],
  [["token"], async () => (await import("./token.js")).registerToken],
  [["secrets"], async () => (await import("./secrets.js")).registerSecrets],
  [["oidc"], async () => (await import("./oidc.js")).registerOidc],
  [["audit"], async () => (await import("./audit.js")).registerAudit],
  [["db"], async () => (await import("./db.js")).registerDb],
  [["prune"], async () => (await import("./prune.js")).registerPrune],
  [
    ["mask"],
    async () => {
      const [{ registerMask }, { loadSetValues }] = await Promise.all([
        import("./mask.js"),
        import("../mask-values.js"),
      ]);
      return (program) => registerMask(program, { loadSetValues });
    },
  ],
  [["schema"], async () => (await import("./schema.js")).registerSchema],
  [["doctor"], async () => (await import("./doctor.js")).registerDoctor],
  [
    ["dispatch-key", "verify-dispatch"],
    async () => (await import("./dispatch.js")).registerDispatch,
  ],
  [["mirror"], async () => (await import("./mirror.js")).registerMirror],
];

/**
 * Registers the command `argv` names, or every command when it names none (or one that does not
 * exist, so that help and "unknown command" list them all).
 */
export async function registerCommands(program: Command, argv: readonly string[]): Promise<void> {
  const name = argv.slice(2).find((a) => !a.startsWith("-"));
  const one = COMMANDS.filter(([names]) => name !== undefined && names.includes(name));
  for (const [, load] of one.length ? one : COMMANDS) (await load())(program);
}
