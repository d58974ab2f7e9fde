// Resident memory of a gateway process as deliveries accumulate: measured after 5,000 and after
// 50,000 signed deliveries (stored and processed), in the same gateway. A store that grows must
// not make the process grow with it (issue: RSS rose from 107 to 169 MB over 20,000 deliveries).
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawnGateway } from "./gateway-process.js";
import type { LoadOptions, LoadResult } from "./intake-load.js";

/** VmRSS of a process, in MiB. */
const rssMiB = (pid: number) =>
  Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) / 1024;

export async function rssRows(
  load: (url: string, o: Omit<LoadOptions, "url" | "secret">) => Promise<LoadResult>,
  secret: string,
  marks = [5000, 50_000],
) {
  const dir = mkdtempSync(path.join(os.tmpdir(), "airlock-bench-rss-"));
  const gw = await spawnGateway(dir, secret);
  const { child, url } = gw;
  try {
    const rss: { deliveries: number; mib: number }[] = [];
    let sent = 0;
    for (const mark of marks) {
      const r = await load(url, { connections: 4, count: mark - sent, seconds: 3600, warmup: 0 });
      if (r.errors > 0) throw new Error(`intake RSS bench: ${r.errors} deliveries failed`);
      sent = mark;
      // Let the processing loop catch up and the heap settle before reading.
      await new Promise((r) => setTimeout(r, 3000));
      rss.push({ deliveries: mark, mib: rssMiB(child.pid!) });
    }
    return rss;
  } finally {
    await gw.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
