/** Bytes as lowercase hex, two digits each (digests, key ids, signatures). */
export function toHex(bytes: Uint8Array | ArrayBuffer): string {
  let out = '';
  for (const byte of bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes))
    out += byte.toString(16).padStart(2, '0');
  return out;
}
