// The OIDC issuer's signing keys. The private key is AES-256-GCM sealed by the embedded store's
// data key (src/secrets/embedded-keyring.ts), like a secret value; everything else here is public.

export interface OidcKeysTable {
  /** The JWK key id: the RFC 7638 thumbprint of the public key. */
  kid: string;
  /** "RS256" or "ES256". */
  alg: string;
  /** JSON: the public JWK as the JWKS publishes it. */
  public_jwk: string;
  /** The data key that sealed the private key. */
  key_id: string;
  nonce: Buffer;
  /** The sealed PKCS#8 private key (ciphertext and tag). */
  ciphertext: Buffer;
  created_at: number;
  /** When the key starts signing (a rotation publishes a key before it signs). */
  activates_at: number;
  /** The latest expiry of any token the key signed: it stays published until then. */
  signed_until: number;
}
