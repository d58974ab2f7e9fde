// What every command on a data directory shares: its surroundings (stdin, stdout, the
// environment, the store opener), -C and --data-dir, the CLI actor for the audit log, and
// aligned tables and times. Apart from `secrets` because audit, db, doctor, oidc and runs use
// them too.
import { userInfo } from "node:os";
import path from "node:path";
import type { Readable, Writable } from "node:stream";
import type { Command } from "commander";
import { resolveDataDir } from "../../store/datadir.js";
import type { OpenedStore } from "../../store/index.js";
import { openStoreFor } from "../open-store.js";
import { projectDirOf } from "../project-dir.js";

/** The command's surroundings; tests replace them. */
export interface CliIo {
  stdin: Readable & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  stdout: Writable & { isTTY?: boolean };
  stderr: Writable;
  env: NodeJS.ProcessEnv;
  /** The store of a data directory, or the database the environment names. */
  openStore(dataDir: string): Promise<OpenedStore>;
}

export function defaultIo(io: Partial<CliIo> = {}): CliIo {
  const env = io.env ?? process.env;
  return {
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    env,
    openStore: (dataDir) => openStoreFor({ dataDir, env }),
    ...io,
  };
}

export interface DirOptions {
  dir: string;
  dataDir?: string;
}

export function dataDirOf(opts: DirOptions, env: NodeJS.ProcessEnv): string {
  return opts.dataDir ? path.resolve(opts.dataDir) : resolveDataDir(projectDirOf(opts.dir), env);
}

export function withDirOptions(cmd: Command): Command {
  return cmd
    .option("-C, --dir <dir>", "the project directory", ".")
    .option(
      "--data-dir <dir>",
      "the data directory (default: $AIRLOCK_HOME or <project>/.airlock)",
    );
}

export function cliActor(env: NodeJS.ProcessEnv): string {
  let name: string | undefined;
  try {
    name = userInfo().username;
  } catch {
    name = env.USER;
  }
  return `cli:${name || "unknown"}`;
}

/** Aligned columns, header first. */
export function formatTable(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows
    .map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join("  "))
    .join("\n")
    .concat("\n");
}

export const formatTime = (ms: number | null | undefined): string =>
  ms ? new Date(ms).toISOString().replace("T", " ").slice(0, 19) : "-";
