// The values `airlock mask --set NAME` masks: every kept version of every key of the named sets
// in the embedded store of this project's data directory.
import type { RegisteredSecret } from "../redact/types.js";
import { EmbeddedStore } from "../secrets/embedded.js";
import { resolveDataDir } from "../store/datadir.js";
import { UserError } from "./errors.js";
import { openStoreFor } from "./open-store.js";

export async function loadSetValues(sets: string[]): Promise<RegisteredSecret[]> {
  const dataDir = resolveDataDir(process.cwd());
  const db = await openStoreFor({ dataDir, env: process.env });
  try {
    const store = new EmbeddedStore({ dataDir, store: db, env: process.env });
    const out: RegisteredSecret[] = [];
    for (const set of sets) {
      const keys = await store.read(set);
      if (keys.length === 0) {
        throw new UserError(
          `no secret set "${set}" in ${dataDir}: store it with airlock secrets set`,
        );
      }
      for (const k of keys) out.push(...k.versions.map((v) => ({ name: k.key, value: v.value })));
    }
    return out;
  } finally {
    await db.close();
  }
}
