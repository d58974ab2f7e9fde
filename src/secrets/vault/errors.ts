// Errors from Vault, phrased as what to check. They never carry a token or a secret value:
// every text Vault or the network sends back is scrubbed of the strings the client knows.

export type VaultErrorKind = "http" | "unreachable" | "timeout";

export interface VaultErrorInfo {
  kind: VaultErrorKind;
  /** HTTP status; 0 when Vault was not reached. */
  status: number;
  method: string;
  /** The API path without `/v1/`, e.g. `secret/data/functional-tests`. */
  path: string;
  errors: string[];
  warnings: string[];
  /** What to check, in plain words. */
  hint: string;
  attempts: number;
}

export class VaultError extends Error {
  readonly kind: VaultErrorKind;
  readonly status: number;
  readonly method: string;
  readonly path: string;
  readonly errors: string[];
  readonly warnings: string[];
  readonly hint: string;
  readonly attempts: number;

  constructor(info: VaultErrorInfo) {
    const said = info.errors.filter((e) => e.length > 0);
    const where = info.status ? `${info.status} on ${info.path}` : `${info.method} ${info.path}`;
    super(`${where}: ${info.hint}${said.length ? ` (Vault said: ${said.join("; ")})` : ""}`);
    this.name = "VaultError";
    this.kind = info.kind;
    this.status = info.status;
    this.method = info.method;
    this.path = info.path;
    this.errors = info.errors;
    this.warnings = info.warnings;
    this.hint = info.hint;
    this.attempts = info.attempts;
  }

  get sealed(): boolean {
    return this.status === 503 && this.errors.some((e) => /sealed/i.test(e));
  }
}

/** Replaces each known sensitive string in a text. Longest first, so a token's prefix cannot survive. */
export function scrub(text: string, secrets: Iterable<string>): string {
  const list = [...secrets].filter((s) => s.length >= 4).sort((a, b) => b.length - a.length);
  let out = text;
  for (const s of list) out = out.split(s).join("[redacted]");
  return out;
}

/** The capability a request needs, for the 403 hint. */
export function capabilityOf(method: string, path: string, list: boolean): string {
  if (list) return "list";
  if (method === "GET") return "read";
  if (method === "DELETE") return "delete";
  if (/\/(data|metadata)\//.test(path)) return "create/update";
  return "update";
}

export function hintFor(
  status: number,
  capability: string,
  errors: string[],
  address: string,
): string {
  const sealed = errors.some((e) => /sealed/i.test(e));
  switch (status) {
    case 400:
      if (errors.some((e) => /check-and-set/i.test(e))) {
        return "someone else wrote a new version first (check-and-set): read it again and retry";
      }
      return "Vault refused the request as invalid";
    case 401:
    case 403:
      return `the token's policies do not allow ${capability}, or the token has expired or was revoked`;
    case 404:
      return "nothing at this path: check the path, the mount and the KV version";
    case 405:
      return "this operation is not supported on this path (is it the right mount type?)";
    case 412:
      return "Vault's data was not yet consistent, even after retries";
    case 429:
      return "Vault asked us to slow down (rate limit or standby), even after retries";
    case 500:
      return "Vault failed internally: see its server log";
    case 502:
    case 504:
      return `a proxy in front of Vault could not reach it: check the service behind ${address}`;
    case 503:
      return sealed
        ? "Vault is sealed: unseal it (`vault operator unseal`) and retry"
        : "Vault is unavailable (standby, maintenance or overloaded)";
    default:
      return `Vault answered ${status}`;
  }
}
