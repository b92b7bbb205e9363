import { toHex } from '../hex.ts';
import { decodeBase64, encodeBase64 } from '../base64.ts';

/** What a queued request carries that must not be kept readable: where it goes, its headers (credentials), its body (card data). */
export interface QueuedPayload {
  target: string;
  headers: [string, string][];
  bodyBase64: string | null;
}

/** A payload as it is kept: AES-256-GCM, bound to its queue id, naming the key that sealed it. */
export interface SealedPayload {
  alg: 'A256GCM';
  /** Key id: the first 8 bytes of SHA-256 over a label and the key, hex. Names a key without revealing it. */
  kid: string;
  /** 12-byte nonce, base64, new for every payload. */
  iv: string;
  /** Ciphertext and tag, base64. */
  data: string;
}

/** Why a sealed payload cannot be read: sealed with a key this process was not given, or altered/corrupt. */
export class QueuePayloadError extends Error {
  readonly reason: 'key_unknown' | 'corrupt';
  readonly kid: string;
  constructor(reason: 'key_unknown' | 'corrupt', kid: string, message: string) {
    super(message);
    this.name = 'QueuePayloadError';
    this.reason = reason;
    this.kid = kid;
  }
}

export const QUEUE_KEY_BYTES = 32;

/** A queue key as configured: base64 (standard or URL-safe) of 32 random bytes. Throws naming what is wrong, never echoing the key. */
export function parseQueueKey(text: string): Uint8Array {
  const trimmed = text.trim();
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed))
    throw new Error(
      `a queue key must be base64 of ${QUEUE_KEY_BYTES} random bytes (e.g. openssl rand -base64 32); this one has characters base64 does not use`,
    );
  let bytes: Uint8Array;
  try {
    bytes = decodeBase64(trimmed.replace(/-/g, '+').replace(/_/g, '/'));
  } catch {
    throw new Error(
      `a queue key must be base64 of ${QUEUE_KEY_BYTES} random bytes (e.g. openssl rand -base64 32); this one is not valid base64`,
    );
  }
  if (bytes.length !== QUEUE_KEY_BYTES)
    throw new Error(
      `a queue key must be ${QUEUE_KEY_BYTES} bytes (AES-256), base64-encoded (e.g. openssl rand -base64 32); this one is ${bytes.length} bytes`,
    );
  return bytes;
}

/** Web Crypto's key type, named without the DOM library. */
type AesKey = Awaited<ReturnType<typeof crypto.subtle.importKey>>;

const KEY_ID_LABEL = new TextEncoder().encode('paypath queue key id\0');

async function keyId(raw: Uint8Array): Promise<string> {
  const input = new Uint8Array(KEY_ID_LABEL.length + raw.length);
  input.set(KEY_ID_LABEL);
  input.set(raw, KEY_ID_LABEL.length);
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', input));
  return toHex(digest.subarray(0, 8));
}

/**
 * Seals queued payloads with AES-256-GCM (Web Crypto). The first key seals; every key given opens,
 * so entries sealed before a key rotation are still forwarded while the previous key is listed.
 * The queue id is the additional data: a payload moved to another entry does not open.
 */
export class QueueCipher {
  readonly keyId: string;
  readonly #sealing: AesKey;
  readonly #opening: Map<string, AesKey>;

  private constructor(keyIdValue: string, sealing: AesKey, opening: Map<string, AesKey>) {
    this.keyId = keyIdValue;
    this.#sealing = sealing;
    this.#opening = opening;
  }

  /** `keys[0]` seals and opens; the others (previous keys) only open. */
  static async create(keys: readonly Uint8Array[]): Promise<QueueCipher> {
    if (keys.length === 0) throw new Error('a queue cipher needs at least one key');
    const opening = new Map<string, AesKey>();
    let first: { id: string; key: AesKey } | undefined;
    for (const raw of keys) {
      if (raw.length !== QUEUE_KEY_BYTES)
        throw new Error(`a queue key must be ${QUEUE_KEY_BYTES} bytes, got ${raw.length}`);
      const id = await keyId(raw);
      const key = await crypto.subtle.importKey(
        'raw',
        raw as Uint8Array<ArrayBuffer>,
        { name: 'AES-GCM' },
        false,
        ['encrypt', 'decrypt'],
      );
      if (!opening.has(id)) opening.set(id, key);
      first ??= { id, key };
    }
    return new QueueCipher(first!.id, first!.key, opening);
  }

  knows(kid: string): boolean {
    return this.#opening.has(kid);
  }

  async seal(queueId: string, payload: QueuedPayload): Promise<SealedPayload> {
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const plain = new TextEncoder().encode(JSON.stringify(payload));
    const data = await crypto.subtle.encrypt(
      { name: 'AES-GCM', iv, additionalData: new TextEncoder().encode(queueId) },
      this.#sealing,
      plain,
    );
    return {
      alg: 'A256GCM',
      kid: this.keyId,
      iv: encodeBase64(iv),
      data: encodeBase64(new Uint8Array(data)),
    };
  }

  /** Throws QueuePayloadError when the key is not known here or the payload does not authenticate. */
  async open(queueId: string, sealed: SealedPayload): Promise<QueuedPayload> {
    const key = this.#opening.get(sealed.kid);
    if (!key)
      throw new QueuePayloadError(
        'key_unknown',
        sealed.kid,
        `queued request ${queueId} was sealed with queue key ${sealed.kid}, which this instance was not given`,
      );
    let plain: ArrayBuffer;
    try {
      plain = await crypto.subtle.decrypt(
        {
          name: 'AES-GCM',
          iv: decodeBase64(sealed.iv) as Uint8Array<ArrayBuffer>,
          additionalData: new TextEncoder().encode(queueId),
        },
        key,
        decodeBase64(sealed.data) as Uint8Array<ArrayBuffer>,
      );
    } catch {
      throw new QueuePayloadError(
        'corrupt',
        sealed.kid,
        `queued request ${queueId} does not decrypt with queue key ${sealed.kid}: altered or corrupt`,
      );
    }
    return JSON.parse(new TextDecoder().decode(plain)) as QueuedPayload;
  }
}
