// The Ed25519 key pair that signs dispatch tokens. The private key lives in the data
// directory (mode 0600) and is created on first use; the public key is published.
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
} from "node:crypto";
import { chmodSync, closeSync, openSync, readFileSync, statSync, writeSync } from "node:fs";
import path from "node:path";
import { ensureDataDir } from "../store/datadir.js";

export const DISPATCH_KEY_FILE = "dispatch-ed25519.pem";

export interface DispatchKeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** SPKI PEM of the public key: what `airlock dispatch-key` prints and the web route serves. */
  publicPem: string;
  /** Short fingerprint of the public key, carried in tokens so a wrong key is named as such. */
  keyId: string;
}

/** First 16 hex digits of SHA-256 over the DER public key. */
export function dispatchKeyId(publicKey: KeyObject): string {
  const der = publicKey.export({ type: "spki", format: "der" });
  return createHash("sha256").update(der).digest("hex").slice(0, 16);
}

function fromPrivate(privateKey: KeyObject): DispatchKeyPair {
  if (privateKey.asymmetricKeyType !== "ed25519") {
    throw new Error("the dispatch key file does not hold an Ed25519 key");
  }
  const publicKey = createPublicKey(privateKey);
  return {
    privateKey,
    publicKey,
    publicPem: publicKey.export({ type: "spki", format: "pem" }).toString(),
    keyId: dispatchKeyId(publicKey),
  };
}

/** Loads the dispatch key from `dataDir`, creating it (0600, exclusively) when absent. */
export function loadOrCreateDispatchKey(dataDir: string): DispatchKeyPair {
  ensureDataDir(dataDir);
  const file = path.join(dataDir, DISPATCH_KEY_FILE);
  try {
    return loadDispatchKey(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
  const { privateKey } = generateKeyPairSync("ed25519");
  const pem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  let fd: number;
  try {
    // "wx": never overwrite a key another process created a moment ago.
    fd = openSync(file, "wx", 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return loadDispatchKey(file);
    throw e;
  }
  try {
    writeSync(fd, pem);
  } finally {
    closeSync(fd);
  }
  chmodSync(file, 0o600); // the umask cannot widen it, but be explicit
  return fromPrivate(privateKey);
}

function loadDispatchKey(file: string): DispatchKeyPair {
  const pem = readFileSync(file, "utf8");
  const mode = statSync(file).mode & 0o777;
  if (mode & 0o077) chmodSync(file, 0o600); // repair a key someone widened
  return fromPrivate(createPrivateKey(pem));
}

/** The PEM public key, for `/.well-known/airlock-dispatch-key`. */
export function dispatchPublicKeyPem(dataDir: string): string {
  return loadOrCreateDispatchKey(dataDir).publicPem;
}

/** Parses a PEM (or base64 DER SPKI) public key given by a user; throws a one-line message. */
export function parsePublicKey(text: string): KeyObject {
  const trimmed = text.trim();
  let key: KeyObject;
  try {
    key = trimmed.startsWith("-----")
      ? createPublicKey(trimmed)
      : createPublicKey({ key: Buffer.from(trimmed, "base64"), format: "der", type: "spki" });
  } catch {
    throw new Error(
      "the dispatch public key is not a PEM public key: use the output of `airlock dispatch-key`",
    );
  }
  if (key.asymmetricKeyType !== "ed25519") {
    throw new Error(
      "the dispatch public key is not an Ed25519 key: use the output of `airlock dispatch-key`",
    );
  }
  return key;
}
