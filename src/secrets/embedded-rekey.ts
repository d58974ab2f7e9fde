// `airlock secrets rekey`: the data key wrapped under a new master key in one transaction, or with
// --data-key a new data key and every value and OIDC signing key re-sealed under it, in the same
// one. Apart from the store's everyday methods because it is the one place that replaces keys.
import { renameSync, rmSync } from "node:fs";
import type { Store } from "../store/types.js";
import { masterKeyId, newKey, newKeyId, seal } from "./crypto.js";
import { dataKeyAad, type Keyring, oidcKeyAad, valueAad } from "./embedded-keyring.js";
import { SecretsError } from "./errors.js";
import { MASTER_KEY_ENV, writeKeyFile } from "./master-key.js";

export interface RekeyResult {
  oldMasterId: string;
  newMasterId: string;
  /** Where the new key was written, when the key lives in a file. */
  keyFile?: string;
  dataKeyReplaced: boolean;
  valuesResealed: number;
}

export async function rekeyStore(
  store: Store,
  keys: Keyring,
  now: () => number,
  opts: { actor: string; newKey?: Buffer; dataKey?: boolean },
): Promise<RekeyResult> {
  await keys.unlock(store.secrets, false);
  const old = keys.master;
  if (!old) throw new SecretsError("nothing to rekey: the store holds no secrets yet");
  if (old.source === "env" && !opts.newKey) {
    throw new SecretsError(
      `the master key comes from ${MASTER_KEY_ENV}: give the new key on stdin (e.g. \`openssl rand -base64 32 | airlock secrets rekey --new-key-stdin\`), then set ${MASTER_KEY_ENV} to it`,
    );
  }
  const next = opts.newKey ?? newKey();
  const nextId = masterKeyId(next);
  if (nextId === old.id) {
    throw new SecretsError("the new master key is the same as the current one: generate a new one");
  }
  const pending = `${old.file}.new`;
  if (old.source === "file") {
    // A leftover from an interrupted rekey that never committed: the current key is master.key.
    rmSync(pending, { force: true });
    writeKeyFile(pending, next);
  }
  let resealed = 0;
  let newDataKey: { id: string; key: Buffer } | undefined;
  try {
    await store.transaction(async (tx) => {
      const rows = tx.secrets;
      if (opts.dataKey) {
        newDataKey = { id: newKeyId(), key: newKey() };
        for (const row of await rows.allValues()) {
          const value = await keys.openValue(rows, row);
          const s = seal(
            newDataKey.key,
            Buffer.from(value, "utf8"),
            valueAad(newDataKey.id, row.set_name, row.key, row.version),
          );
          await rows.replaceSealed({
            ...row,
            key_id: newDataKey.id,
            nonce: s.nonce,
            ciphertext: s.ciphertext,
          });
          resealed++;
        }
        for (const row of await tx.oidcKeys.all()) {
          const s = seal(
            newDataKey.key,
            await keys.openOidcKey(row, rows),
            oidcKeyAad(newDataKey.id, row.kid),
          );
          await tx.oidcKeys.replaceSealed(row.kid, newDataKey.id, s.nonce, s.ciphertext);
          resealed++;
        }
        for (const r of await rows.keyring()) await rows.deleteKeyring(r.id);
        const w = seal(next, newDataKey.key, dataKeyAad(newDataKey.id, nextId));
        await rows.insertKeyring({
          id: newDataKey.id,
          master_id: nextId,
          nonce: w.nonce,
          wrapped: w.ciphertext,
          active: 1,
          created_at: now(),
        });
      } else {
        for (const r of await rows.keyring()) {
          const w = seal(next, keys.dataKey(r.id)!, dataKeyAad(r.id, nextId));
          await rows.rewrapKeyring(r.id, nextId, w.nonce, w.ciphertext);
        }
      }
      await tx.audit.record({
        action: "rekey",
        actor: opts.actor,
        detail: `master key ${old.id} -> ${nextId}${opts.dataKey ? `; data key replaced, ${resealed} values re-sealed` : ""}`,
        at: now(),
      });
    });
  } catch (e) {
    if (old.source === "file") rmSync(pending, { force: true });
    throw e;
  }
  if (old.source === "file") renameSync(pending, old.file);
  // Push the old wrapped key out of files the database keeps (SQLite's WAL), so that only the
  // new one remains on disk.
  await store.secrets.purgeDeleted();
  keys.adopt({ ...old, key: next, id: nextId }, newDataKey);
  return {
    oldMasterId: old.id,
    newMasterId: nextId,
    ...(old.source === "file" ? { keyFile: old.file } : {}),
    dataKeyReplaced: Boolean(opts.dataKey),
    valuesResealed: resealed,
  };
}
