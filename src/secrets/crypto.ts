// AES-256-GCM sealing for the embedded store. Each value is sealed under its own random 12-byte
// nonce, with associated data naming where it belongs (data key id, set, key, version), so a
// ciphertext copied to another row fails authentication instead of decrypting to the wrong secret.
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from "node:crypto";
import { SecretsError } from "./errors.js";

export const KEY_BYTES = 32;
export const NONCE_BYTES = 12;
const TAG_BYTES = 16;

export interface Sealed {
  nonce: Buffer;
  /** Ciphertext followed by the 16-byte GCM tag. */
  ciphertext: Buffer;
}

export const newKey = (): Buffer => randomBytes(KEY_BYTES);
export const newKeyId = (): string => randomBytes(8).toString("hex");

/**
 * A stable, non-secret name for a master key: HMAC(key, label). It lets the store tell "wrong
 * key" apart from "damaged keyring" without keeping anything that helps guess the key.
 */
export function masterKeyId(key: Buffer): string {
  return createHmac("sha256", key).update("airlock master key id v1").digest("hex").slice(0, 16);
}

/** Associated data as a JSON array: unambiguous however the parts are spelled. */
export function aad(...parts: (string | number)[]): Buffer {
  return Buffer.from(JSON.stringify(parts), "utf8");
}

export function seal(key: Buffer, plaintext: Buffer, associated: Buffer): Sealed {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(associated);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { nonce, ciphertext: Buffer.concat([body, cipher.getAuthTag()]) };
}

/** Returns the plaintext, or undefined when authentication fails (wrong key, altered or moved). */
export function open(key: Buffer, sealed: Sealed, associated: Buffer): Buffer | undefined {
  if (sealed.nonce.length !== NONCE_BYTES || sealed.ciphertext.length < TAG_BYTES) return undefined;
  const body = sealed.ciphertext.subarray(0, sealed.ciphertext.length - TAG_BYTES);
  const tag = sealed.ciphertext.subarray(sealed.ciphertext.length - TAG_BYTES);
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, sealed.nonce, {
      authTagLength: TAG_BYTES,
    });
    decipher.setAAD(associated);
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(body), decipher.final()]);
  } catch {
    return undefined;
  }
}

const KEY_HINT =
  "a master key is 32 random bytes written as 64 hex digits or 44 base64 characters, e.g. the output of `openssl rand -base64 32`";

/** Parses a master key given as hex or base64 (standard or URL-safe). `where` names its source. */
export function parseMasterKey(text: string, where: string): Buffer {
  const t = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(t)) return Buffer.from(t, "hex");
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(t)) {
    const key = Buffer.from(t.replace(/-/g, "+").replace(/_/g, "/"), "base64");
    if (key.length === KEY_BYTES) return key;
  }
  // The text may be a mistyped key: describe it by its length only.
  throw new SecretsError(
    `${where} is not a valid master key (${t.length} characters): ${KEY_HINT}`,
  );
}
