// Does the project's .airlock.yml load? Each problem is one line with its file:line:col.
import { existsSync } from "node:fs";
import path from "node:path";
import { ConfigError, formatIssue, loadConfig } from "../../config/loader.js";
import { type Config, holdsCredentials } from "../../config/schema.js";
import { type DoctorCheck, fail, ok } from "./types.js";

export const CONFIG_FILE = ".airlock.yml";

export function checkConfig(projectDir: string): { checks: DoctorCheck[]; config?: Config } {
  const file = path.join(projectDir, CONFIG_FILE);
  if (!existsSync(file)) {
    return {
      checks: [
        fail(
          "config",
          `no ${CONFIG_FILE} in ${projectDir}: start one from docs/configuration.md (\`version: 1\` and a \`jobs:\` map), or point -C at the project`,
        ),
      ],
    };
  }
  try {
    const config = loadConfig(file);
    const jobs = Object.values(config.jobs);
    const restricted = jobs.filter(holdsCredentials).length;
    return {
      config,
      checks: [
        ok(
          "config",
          `${file} loads: ${jobs.length} job${jobs.length === 1 ? "" : "s"} (${restricted} restricted), ${Object.keys(config.secrets).length} secret set${Object.keys(config.secrets).length === 1 ? "" : "s"}`,
        ),
      ],
    };
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    // The issue already says where and what to change.
    return { checks: e.issues.map((i) => fail("config", formatIssue(i))) };
  }
}

/** Whether the pipeline has jobs that receive secrets and run in the local sandbox. */
export function restrictedJobsRunHere(config: Config | undefined): boolean | undefined {
  if (!config) return undefined;
  const restricted = Object.values(config.jobs).some(holdsCredentials);
  return restricted && !config.executor?.gitlab;
}
