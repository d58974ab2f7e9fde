// What keeps the gateway from taking work now (GET /readyz): a store that cannot store (a write to
// it fails: a read-only data directory, a full disk, an I/O error), a data directory that cannot be
// written (logs go there), or a disk reserve that is not free. Each problem is one line naming it.
import { rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { belowReserve } from "../store/disk-reserve.js";

export interface ReadinessOptions {
  /** A write that must reach the store; throws when it cannot. */
  probeWrite(): Promise<void>;
  dataDir: string;
  diskReserveBytes: number;
}

const why = (e: unknown) => (e instanceof Error ? e.message : String(e));

export function readiness(o: ReadinessOptions): () => Promise<string[]> {
  const probeFile = path.join(o.dataDir, ".ready-probe");
  return async () => {
    const problems: string[] = [];
    await o.probeWrite().catch((e) => problems.push(`the store cannot store: ${why(e)}`));
    try {
      await writeFile(probeFile, "");
      await rm(probeFile, { force: true });
    } catch (e) {
      problems.push(`the data directory cannot be written: ${why(e)}`);
    }
    const below = await belowReserve(o.dataDir, o.diskReserveBytes).catch(
      (e) => `the data directory's free space cannot be read: ${why(e)}`,
    );
    if (below) problems.push(below);
    return problems;
  };
}
