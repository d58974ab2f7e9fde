// Errors of the secrets module. Messages name the problem and the fix, and never carry a value:
// callers may print or store them (DESIGN.md invariant 9).

export class SecretsError extends Error {
  override readonly name = "SecretsError";
}

/** The master key at hand is not the one the store was encrypted with. */
export class WrongMasterKeyError extends SecretsError {}

/** A stored value or wrapped key failed authentication: altered, truncated or moved. */
export class TamperedError extends SecretsError {}
