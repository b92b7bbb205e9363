/** Base64 (standard, padded) of bytes, for answers and queued requests kept as text. */

/** Node's Buffer where there is one (Node, Workers with nodejs_compat): it encodes natively. */
const NativeBuffer = (globalThis as { Buffer?: typeof Buffer }).Buffer;

export function encodeBase64(bytes: Uint8Array): string {
  if (NativeBuffer !== undefined)
    return NativeBuffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000)
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

export function decodeBase64(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
