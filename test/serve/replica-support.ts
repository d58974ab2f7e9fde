// `airlock serve` replicas of one world on its PostgreSQL database, as an operator runs them: each
// with a data directory of its own (the keys copied: replicas share the database and the keys, not
// a disk) and one shared logs directory (a shared mount, here a symlink), reached through the
// environment the docs name.
import { cpSync, existsSync, mkdirSync, symlinkSync } from "node:fs";
import path from "node:path";
import { DATABASE_ENV } from "../../src/store/settings.js";
import { BASE_PIPELINE, WEBHOOK_SECRET, type World } from "../gateway-flow/harness.js";
import { type Served, startServe } from "./helpers.js";

/** The flow's pipeline with a public job that prints "unit line 1".."unit line N" slowly, so
 * that they are read while it runs. */
export const slowLinesPipeline = (lines: number) =>
  BASE_PIPELINE.replace(
    'echo "unit ok"',
    `for i in $(seq 1 ${lines}); do echo "unit line $i"; sleep 0.1; done`,
  );

/**
 * The data directory of replica `name` (the world's own for "r1"), made on first use: the world's
 * keys copied, its logs directory shared.
 */
export function replicaDir(w: World, name: string): string {
  const logs = path.join(w.dataDir, "logs");
  mkdirSync(logs, { recursive: true });
  mkdirSync(path.join(w.root, "tmp"), { recursive: true });
  if (name === "r1") return w.dataDir;
  const dataDir = path.join(w.root, name);
  if (!existsSync(dataDir)) {
    cpSync(w.dataDir, dataDir, { recursive: true, filter: (src) => src !== logs });
    symlinkSync(logs, path.join(dataDir, "logs"));
  }
  return dataDir;
}

/** Starts `airlock serve` as replica `name` of the world, with `env` added (a lease time...). */
export function startReplica(
  w: World,
  name: string,
  o: { env?: Record<string, string>; args?: string[] } = {},
): Promise<Served> {
  return startServe(o.args ?? [], {
    cwd: w.root,
    expectLink: false,
    env: {
      PATH: process.env.PATH,
      HOME: w.root,
      LANG: "C.UTF-8",
      TMPDIR: path.join(w.root, "tmp"),
      AIRLOCK_HOME: replicaDir(w, name),
      AIRLOCK_GITHUB_APP_ID: String(w.gh.appId),
      AIRLOCK_GITHUB_PRIVATE_KEY: w.gh.privateKey!,
      AIRLOCK_WEBHOOK_SECRET: WEBHOOK_SECRET,
      AIRLOCK_GITHUB_API_URL: w.gh.url,
      AIRLOCK_GITHUB_CLONE_URL: w.repo.cloneBase,
      [DATABASE_ENV.url]: w.database!.url!,
      [DATABASE_ENV.password]: w.database!.password!,
      ...o.env,
    },
  });
}
