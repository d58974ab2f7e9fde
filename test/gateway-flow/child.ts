// The gateway as a child process (fixtures/flow-child.ts) on a world's data directory, for the
// tests that stop it with a signal and start it again.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { sign } from "@octokit/webhooks-methods";
import { DATABASE_ENV } from "../../src/store/settings.js";
import { compiled } from "../support/compiled.js";
import { WEBHOOK_SECRET, type World } from "./harness.js";

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures", "flow-child.ts");

/**
 * Starts the gateway (on `dataDir`, default the world's, with `env` added); resolves once it
 * listens, with its URL.
 */
export async function startChild(
  world: World,
  opts: { dataDir?: string; env?: Record<string, string> } = {},
): Promise<{ proc: ChildProcess; url: string }> {
  const tmp = path.join(world.root, "tmp");
  mkdirSync(tmp, { recursive: true });
  const arg = JSON.stringify({
    dataDir: opts.dataDir ?? world.dataDir,
    cloneBase: world.repo.cloneBase,
    gh: { appId: world.gh.appId, privateKey: world.gh.privateKey, url: world.gh.url },
  });
  const db = world.database;
  const proc = spawn(process.execPath, [compiled(CHILD), arg], {
    stdio: ["ignore", "pipe", "inherit"],
    env: {
      ...process.env,
      // Workspaces of killed runs stay inside the test's directory.
      TMPDIR: tmp,
      // The database reaches the gateway through the environment, as it reaches airlock serve.
      ...(db?.url ? { [DATABASE_ENV.url]: db.url } : {}),
      ...(db?.password ? { [DATABASE_ENV.password]: db.password } : {}),
      ...opts.env,
    },
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    proc.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const line = out.split("\n")[0];
      if (out.includes("\n") && line) resolve(line.trim());
    });
    proc.on("exit", (code) => reject(new Error(`gateway exited early (${code})`)));
  });
  return { proc, url };
}

/** Delivers a signed webhook to a gateway at `url`; its HTTP status. */
export async function sendTo(
  url: string,
  event: string,
  id: string,
  payload: unknown,
): Promise<number> {
  const body = JSON.stringify(payload);
  const res = await fetch(`${url}/webhooks/github`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-github-event": event,
      "x-github-delivery": id,
      "x-hub-signature-256": await sign(WEBHOOK_SECRET, body),
    },
    body,
  });
  return res.status;
}
