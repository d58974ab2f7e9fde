// `airlock doctor` for Vault: is it reachable and unsealed, does the login work, can each set's
// path be read, do token-mode policies exist. Each finding is one line in plain words.
import type { VaultSetConfig } from "../../config/vault-schema.js";
import { createVaultBackend, type VaultBackendOptions } from "./backend.js";
import { VaultClient } from "./client.js";
import { VaultConfigError, vaultConnectionFromEnv } from "./connection.js";
import { VaultError } from "./errors.js";

export interface DoctorCheck {
  status: "ok" | "warn" | "fail";
  /** What was checked, e.g. `vault address`, `set functional-tests`. */
  subject: string;
  message: string;
}

export interface CheckVaultOptions {
  client?: VaultBackendOptions["client"];
  now?: () => number;
}

const reason = (e: unknown) => (e instanceof Error ? e.message : String(e));

export async function checkVault(
  sets: Record<string, VaultSetConfig>,
  env: NodeJS.ProcessEnv = process.env,
  o: CheckVaultOptions = {},
): Promise<DoctorCheck[]> {
  const out: DoctorCheck[] = [];
  const names = Object.keys(sets);
  if (names.length === 0) return out;

  let connection: ReturnType<typeof vaultConnectionFromEnv>;
  try {
    connection = vaultConnectionFromEnv(env);
  } catch (e) {
    out.push({ status: "fail", subject: "vault address", message: reason(e) });
    return out;
  }
  const client = { retries: 1, sealedRetries: 0, timeoutMs: 5000, ...o.client };

  try {
    const probe = new VaultClient({
      ...client,
      address: connection.address,
      namespace: connection.namespace,
    });
    const seal = await probe.sealStatus();
    if (seal.sealed) {
      out.push({
        status: "fail",
        subject: "vault address",
        message: `Vault at ${connection.address} is sealed: unseal it (\`vault operator unseal\`) before jobs run`,
      });
      return out;
    }
    if (!seal.initialized) {
      out.push({
        status: "fail",
        subject: "vault address",
        message: `Vault at ${connection.address} is not initialized`,
      });
      return out;
    }
    out.push({
      status: "ok",
      subject: "vault address",
      message: `Vault at ${connection.address} answers and is unsealed${seal.version ? ` (version ${seal.version})` : ""}`,
    });
  } catch (e) {
    out.push({ status: "fail", subject: "vault address", message: reason(e) });
    return out;
  }

  const backend = createVaultBackend({ sets, connection, client, now: o.now });
  for (const set of names) {
    const cfg = sets[set]!;
    const subject = `set ${set}`;
    // Login.
    let policies: string[] = [];
    try {
      const c = await backend.clientFor(set);
      try {
        const self = await c.lookupSelf();
        policies = self.policies;
        const ttl = self.ttl ? `, expires in ${Math.round(self.ttl / 60)} min` : ", no expiry";
        out.push({
          status: "ok",
          subject,
          message: `logged in by ${cfg.auth.method} with policies ${self.policies.join(", ") || "(none)"}${ttl}`,
        });
      } catch (e) {
        if (!(e instanceof VaultError && e.status === 403)) throw e;
        out.push({
          status: cfg.auth.method === "token" ? "fail" : "warn",
          subject,
          message:
            cfg.auth.method === "token"
              ? "Vault rejects Airlock's token (VAULT_TOKEN): it is wrong, expired or revoked, or lacks the `default` policy (lookup-self)"
              : `logged in by ${cfg.auth.method}, but the token may not look itself up (no \`default\` policy)`,
        });
        if (cfg.auth.method === "token") continue;
      }
    } catch (e) {
      out.push({
        status: "fail",
        subject,
        message: `login by ${cfg.auth.method} failed: ${reason(e)}`,
      });
      continue;
    }

    // The path, and for token mode the version listing the redactor relies on.
    try {
      const kv = await backend.resolve(set);
      const keys = await backend.list(set);
      out.push({
        status: "ok",
        subject,
        message: `${kv.readPath} (KV v${kv.kvVersion}) is readable: ${keys.length} key${keys.length === 1 ? "" : "s"}`,
      });
    } catch (e) {
      out.push({ status: "fail", subject, message: `cannot read ${cfg.path}: ${reason(e)}` });
    }

    if (cfg.mode === "token") {
      for (const p of cfg.policies) {
        try {
          const c = await backend.clientFor(set);
          const found = await c.readPolicy(p);
          if (!found) {
            out.push({
              status: "fail",
              subject,
              message: `policy "${p}" does not exist in Vault: create it with \`vault policy write ${p} FILE\``,
            });
          } else if (policies.length && !policies.includes("root") && !policies.includes(p)) {
            out.push({
              status: "fail",
              subject,
              message: `Airlock's token lacks policy "${p}", so it cannot give it to job tokens (a child token gets a subset of its parent's policies)`,
            });
          } else {
            out.push({ status: "ok", subject, message: `policy "${p}" exists` });
          }
        } catch (e) {
          out.push({
            status: "warn",
            subject,
            message: `cannot check policy "${p}": ${reason(e)} (Airlock's token needs read on sys/policies/acl/${p} for this check)`,
          });
        }
      }
    }

    // Dynamic paths: ask for capabilities instead of reading, which would create credentials.
    if (cfg.dynamic.length) {
      try {
        const c = await backend.clientFor(set);
        const caps = await c.capabilitiesSelf(cfg.dynamic.map((d) => d.path));
        for (const [p, list] of Object.entries(caps)) {
          const ok = list.includes("root") || list.includes("read") || list.includes("update");
          out.push({
            status: ok ? "ok" : "fail",
            subject,
            message: ok
              ? `dynamic path ${p} is readable`
              : `Airlock's token may not read dynamic path ${p} (capabilities: ${list.join(", ") || "none"})`,
          });
        }
      } catch (e) {
        out.push({ status: "warn", subject, message: `cannot check dynamic paths: ${reason(e)}` });
      }
    }

    if (cfg.rotate_every) {
      try {
        const r = await backend.rotationStatus(set);
        if (r) {
          out.push({
            status: r.due ? "warn" : "ok",
            subject,
            message: r.due
              ? `rotation due: ${r.message}; run \`airlock secrets rotate ${set} KEY\``
              : `rotation: ${r.message}`,
          });
        }
      } catch (e) {
        if (!(e instanceof VaultError || e instanceof VaultConfigError)) throw e;
        // The read failure is reported above.
      }
    }
  }
  return out;
}
