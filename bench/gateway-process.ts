// A bench gateway (intake-gateway.ts) as a process of its own: its memory and its event loop are
// its own, as each `airlock serve` replica's are. `env` names its database (AIRLOCK_DATABASE_URL);
// without one it keeps its state in the data directory's SQLite.
import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));

export interface GatewayProcess {
  child: ChildProcess;
  /** Its webhook URL. */
  url: string;
  /** SIGTERM, and its exit. */
  stop(): Promise<void>;
}

export async function spawnGateway(
  dataDir: string,
  secret: string,
  env: Record<string, string> = {},
): Promise<GatewayProcess> {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", path.join(here, "intake-gateway.ts"), dataDir, secret],
    { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, ...env } },
  );
  const exited = new Promise((r) => child.once("exit", r));
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("\n")) resolve(out.split("\n")[0]!.trim());
    });
    child.on("exit", (code) => reject(new Error(`the gateway exited (${code})`)));
  });
  return {
    child,
    url,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}
