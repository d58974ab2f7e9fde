// `airlock doctor`: checks what Airlock relies on for a project and on this machine, one line per
// finding, and says in plain words what to fix. The checks live in ../doctor/.
import type { Command } from "commander";
import { formatReport, runDoctor } from "../doctor/index.js";
import { projectDirOf } from "../project-dir.js";
import { dataDirOf, withDirOptions } from "./common.js";

interface DoctorOptions {
  dir: string;
  dataDir?: string;
  serveConfig?: string;
  json?: boolean;
}

const HELP = `
Checks, each one line "ok|warn|FAIL  subject: message" (a warn or FAIL says how to fix it):
  config          .airlock.yml loads (problems with file:line:col)
  sandbox         bubblewrap is installed and makes a sandbox; which kernel setting stops it
  network         a sandbox without network sees only lo
  egress          a job with a network allow list gets its proxy (when the pipeline has one)
  git             git is installed; the project is a repository with a HEAD commit
  data directory  private (mode 0700, keys and database 0600); the master key opens the store
  disk            free space for the data directory
  workspaces      where job checkouts go (AIRLOCK_WORKSPACES or TMPDIR): writable, outside
                  the data directory, tmpfs or disk, free space
  set NAME        each secret set a job uses holds keys (names and versions, never values);
                  Vault sets: address, seal, login, paths, policies, rotation
  serve           the serve config (--serve-config, or <data dir>/github-app/serve.yml):
                  App id, private key PEM, webhook secrets, https public URL

Exits 1 when any check FAILs. Never prints a secret value or key material.
`;

export function registerDoctor(
  program: Command,
  out: (s: string) => void = (s) => process.stdout.write(s),
): void {
  withDirOptions(
    program
      .command("doctor")
      .description(
        "Check everything Airlock relies on (pipeline, sandbox, git, data directory, master key, workspaces, secret sets, serve config), and say what to fix",
      ),
  )
    .option("--serve-config <file>", "also check this `airlock serve` config file")
    .option("--json", "print the findings as JSON")
    .addHelpText("after", HELP)
    .action(async (opts: DoctorOptions) => {
      const report = await runDoctor({
        projectDir: projectDirOf(opts.dir),
        dataDir: dataDirOf(opts, process.env),
        env: process.env,
        ...(opts.serveConfig ? { serveConfig: opts.serveConfig } : {}),
      });
      out(opts.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
      if (!report.ok) process.exitCode = 1;
    });
}
