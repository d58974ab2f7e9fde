import type { Command } from "commander";
import { loadSetValues } from "../mask-values.js";
import { registerApp } from "./app.js";
import { registerAudit } from "./audit.js";
import { registerDb } from "./db.js";
import { registerDispatch } from "./dispatch.js";
import { registerDoctor } from "./doctor.js";
import { registerLogs } from "./logs.js";
import { registerMask } from "./mask.js";
import { registerMirror } from "./mirror.js";
import { registerOidc } from "./oidc.js";
import { registerPrune } from "./prune.js";
import { registerRun } from "./run.js";
import { registerRuns } from "./runs.js";
import { registerSchema } from "./schema.js";
import { registerSecrets } from "./secrets.js";
import { registerServe } from "./serve.js";
import { registerToken } from "./token.js";

/** Every command of the CLI, in the order `airlock --help` lists them. */
export function registerCommands(program: Command): void {
  registerRun(program);
  registerRuns(program);
  registerLogs(program);
  registerServe(program);
  registerApp(program);
  registerToken(program);
  registerSecrets(program);
  registerOidc(program);
  registerAudit(program);
  registerDb(program);
  registerPrune(program);
  registerMask(program, { loadSetValues });
  registerSchema(program);
  registerDoctor(program);
  registerDispatch(program);
  registerMirror(program);
}
