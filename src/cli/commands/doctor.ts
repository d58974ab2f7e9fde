// `airlock doctor`: checks what the pipeline relies on and says, in plain words, what to fix.
// For now: the Vault secret sets (address, seal, login, paths, policies, rotation).
import path from "node:path";
import type { Command } from "commander";
import { ConfigError, loadConfig } from "../../config/loader.js";
import { checkVault, type DoctorCheck, vaultSets } from "../../secrets/vault/index.js";
import { UserError } from "../errors.js";

const MARK: Record<DoctorCheck["status"], string> = { ok: "ok  ", warn: "warn", fail: "FAIL" };

export function formatChecks(checks: DoctorCheck[]): string {
  return checks.map((c) => `${MARK[c.status]}  ${c.subject}: ${c.message}\n`).join("");
}

export function registerDoctor(
  program: Command,
  out: (s: string) => void = (s) => process.stdout.write(s),
): void {
  program
    .command("doctor")
    .description("Check Vault and the secret sets of .airlock.yml, and say what to fix")
    .option("-C, --dir <dir>", "the project directory", ".")
    .action(async (opts: { dir: string }) => {
      const file = path.join(path.resolve(opts.dir), ".airlock.yml");
      let config: ReturnType<typeof loadConfig>;
      try {
        config = loadConfig(file);
      } catch (e) {
        if (e instanceof ConfigError) throw new UserError(e.message);
        throw e;
      }
      const sets = vaultSets(config.secrets);
      if (Object.keys(sets).length === 0) {
        out("ok    vault: no secret set uses Vault; nothing to check\n");
        return;
      }
      const checks = await checkVault(sets, process.env);
      out(formatChecks(checks));
      const failed = checks.filter((c) => c.status === "fail").length;
      const warned = checks.filter((c) => c.status === "warn").length;
      out(
        failed
          ? `\n${failed} problem${failed === 1 ? "" : "s"} to fix${warned ? `, ${warned} warning${warned === 1 ? "" : "s"}` : ""}\n`
          : `\nall good${warned ? ` (${warned} warning${warned === 1 ? "" : "s"})` : ""}\n`,
      );
      if (failed) process.exitCode = 1;
    });
}
