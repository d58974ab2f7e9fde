// `airlock doctor`: every check, in the order a maintainer would fix things, as one list.
import { checkCgroups } from "./cgroups.js";
import { checkConfig } from "./config.js";
import { openForDoctor } from "./database.js";
import { checkDataDirModes, checkDisk, checkMasterKeyAndStore } from "./datadir.js";
import { checkDataDirIgnored } from "./datadir-git.js";
import { checkEgress } from "./egress.js";
import { checkGit } from "./git.js";
import { checkSandboxGroup } from "./sandbox.js";
import { checkSecretSets } from "./secrets.js";
import { checkServe } from "./serve.js";
import type { DoctorCheck, DoctorContext } from "./types.js";
import { checkWorkspaces } from "./workspaces.js";

export type { DoctorCheck } from "./types.js";

export interface DoctorOptions {
  projectDir: string;
  dataDir: string;
  env: NodeJS.ProcessEnv;
  /** `--serve-config`: the serve config to check. */
  serveConfig?: string;
}

export interface DoctorReport {
  ok: boolean;
  failed: number;
  warned: number;
  checks: DoctorCheck[];
}

export async function runDoctor(o: DoctorOptions): Promise<DoctorReport> {
  const { checks, config } = checkConfig(o.projectDir);
  const sandbox = await checkSandboxGroup(config);
  checks.push(...sandbox);
  if (sandbox.some((c) => c.subject === "sandbox" && c.status === "ok")) {
    checks.push(...(await checkEgress(config)));
  }
  checks.push(...(await checkGit(o.projectDir, config !== undefined)));
  checks.push(...checkDataDirModes(o.dataDir), ...(await checkDataDirIgnored(o.dataDir)));
  const opened = await openForDoctor(o);
  checks.push(...opened.checks);
  const db = opened.db;
  const ctx: DoctorContext = { ...o, config, db };
  try {
    checks.push(...(await checkMasterKeyAndStore(ctx)), checkDisk(o.dataDir));
    checks.push(...checkWorkspaces(ctx));
    checks.push(...(await checkSecretSets(ctx)));
    checks.push(...checkServe(ctx, o.serveConfig));
    checks.push(...(await checkCgroups(ctx, o.serveConfig)));
  } finally {
    await db?.close();
  }
  const failed = checks.filter((c) => c.status === "fail").length;
  const warned = checks.filter((c) => c.status === "warn").length;
  return { ok: failed === 0, failed, warned, checks };
}

const MARK: Record<DoctorCheck["status"], string> = { ok: "ok  ", warn: "warn", fail: "FAIL" };

export function formatChecks(checks: DoctorCheck[]): string {
  return checks.map((c) => `${MARK[c.status]}  ${c.subject}: ${c.message}\n`).join("");
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

export function formatReport(r: DoctorReport): string {
  const summary = r.failed
    ? `${plural(r.failed, "problem")} to fix${r.warned ? `, ${plural(r.warned, "warning")}` : ""}`
    : `all good${r.warned ? ` (${plural(r.warned, "warning")})` : ""}`;
  return `${formatChecks(r.checks)}\n${summary}\n`;
}
