// The server name a TLS client asks for (SNI), read from the first record of a CONNECT tunnel, so
// that a tunnel opened to an allowed host cannot ask a shared front end for another one.

/** The longest first record we wait for: a TLS record's payload is at most 16 KiB. */
export const MAX_HELLO = 5 + 16384;

export type Hello =
  /** Not TLS, or TLS without a server name: nothing to check. */
  | { kind: "none" }
  /** More bytes are needed to read the first record. */
  | { kind: "partial" }
  | { kind: "sni"; name: string };

/** Reads the server_name of a ClientHello at the start of `buf`. */
export function readClientHello(buf: Buffer): Hello {
  if (buf.length === 0) return { kind: "partial" };
  if (buf[0] !== 0x16) return { kind: "none" }; // not a handshake record
  if (buf.length < 5) return { kind: "partial" };
  const recordLen = buf.readUInt16BE(3);
  if (buf.length < 5 + recordLen) return { kind: "partial" };
  const hs = buf.subarray(5, 5 + recordLen);
  // A ClientHello split over several records is rare; its server name is then not checked.
  if (hs.length < 4 || hs[0] !== 0x01 || 4 + hs.readUIntBE(1, 3) > hs.length)
    return { kind: "none" };
  let p = 4 + 2 + 32; // type and length, version, random
  const skip = (lenBytes: 1 | 2): boolean => {
    if (p + lenBytes > hs.length) return false;
    p += lenBytes + hs.readUIntBE(p, lenBytes);
    return p <= hs.length;
  };
  if (!skip(1) || !skip(2) || !skip(1)) return { kind: "none" }; // session id, suites, compression
  if (p + 2 > hs.length) return { kind: "none" };
  const end = Math.min(hs.length, p + 2 + hs.readUInt16BE(p));
  p += 2;
  while (p + 4 <= end) {
    const type = hs.readUInt16BE(p);
    const len = hs.readUInt16BE(p + 2);
    p += 4;
    if (p + len > end) break;
    if (type === 0) {
      // server_name: a list of (type, name); type 0 is a host name.
      let q = p + 2;
      while (q + 3 <= p + len) {
        const nameType = hs[q]!;
        const nameLen = hs.readUInt16BE(q + 1);
        q += 3;
        if (q + nameLen > p + len) break;
        if (nameType === 0)
          return { kind: "sni", name: hs.subarray(q, q + nameLen).toString("latin1") };
        q += nameLen;
      }
      return { kind: "none" };
    }
    p += len;
  }
  return { kind: "none" };
}
