import { describe, expect, it } from 'vitest';
import { encodeBase64 } from '../base64.ts';
import {
  parseQueueKey,
  QueueCipher,
  QueuePayloadError,
  type QueuedPayload,
} from './queue-cipher.ts';

const keyA = new Uint8Array(32).fill(1);
const keyB = new Uint8Array(32).fill(2);
const payload: QueuedPayload = {
  target: '/v1/payments',
  headers: [['authorization', 'Bearer sk_live_merchant_secret']],
  bodyBase64: encodeBase64(
    new TextEncoder().encode('{"amount":1999,"card":{"number":"4111111111111111","cvc":"737"}}'),
  ),
};

async function failure(promise: Promise<unknown>): Promise<QueuePayloadError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof QueuePayloadError) return error;
    throw error;
  }
  throw new Error('expected a QueuePayloadError');
}

describe('QueueCipher', () => {
  it('seals a payload so nothing of it is readable, and opens it again', async () => {
    const cipher = await QueueCipher.create([keyA]);
    const sealed = await cipher.seal('q_1', payload);
    const kept = JSON.stringify(sealed);
    for (const secret of ['sk_live', 'authorization', '/v1/payments', payload.bodyBase64!])
      expect(kept).not.toContain(secret);
    expect(sealed).toMatchObject({ alg: 'A256GCM', kid: cipher.keyId });
    expect(cipher.keyId).toMatch(/^[0-9a-f]{16}$/);
    expect(await cipher.open('q_1', sealed)).toEqual(payload);
    // A new nonce every time: the same payload never seals the same way twice.
    expect((await cipher.seal('q_1', payload)).data).not.toBe(sealed.data);
  });

  it('binds a payload to its queue id, and refuses one altered', async () => {
    const cipher = await QueueCipher.create([keyA]);
    const sealed = await cipher.seal('q_1', payload);
    expect((await failure(cipher.open('q_2', sealed))).reason).toBe('corrupt');
    const flipped = sealed.data.startsWith('A')
      ? `B${sealed.data.slice(1)}`
      : `A${sealed.data.slice(1)}`;
    expect((await failure(cipher.open('q_1', { ...sealed, data: flipped }))).reason).toBe(
      'corrupt',
    );
  });

  it('after a rotation, opens entries sealed with a previous key still listed, and names the key it lacks', async () => {
    const before = await QueueCipher.create([keyA]);
    const sealed = await before.seal('q_1', payload);
    const rotated = await QueueCipher.create([keyB, keyA]);
    expect(rotated.keyId).not.toBe(before.keyId);
    expect(await rotated.open('q_1', sealed)).toEqual(payload);
    expect((await rotated.seal('q_2', payload)).kid).toBe(rotated.keyId);
    const newOnly = await QueueCipher.create([keyB]);
    const lacking = await failure(newOnly.open('q_1', sealed));
    expect(lacking.reason).toBe('key_unknown');
    expect(lacking.kid).toBe(before.keyId);
  });
});

describe('parseQueueKey', () => {
  it('takes base64 (standard or URL-safe) of 32 bytes and refuses anything else without echoing it', () => {
    const standard = Buffer.from(new Uint8Array(32).fill(0xfb)).toString('base64');
    expect(parseQueueKey(standard)).toEqual(new Uint8Array(32).fill(0xfb));
    expect(parseQueueKey(`${standard.replace(/\+/g, '-').replace(/\//g, '_')}\n`)).toEqual(
      new Uint8Array(32).fill(0xfb),
    );
    const short = Buffer.from(new Uint8Array(16).fill(3)).toString('base64');
    expect(() => parseQueueKey(short)).toThrow(/must be 32 bytes .*this one is 16 bytes/);
    for (const bad of [short, 'not a key at all!', 'correct horse battery staple']) {
      try {
        parseQueueKey(bad);
        throw new Error('accepted');
      } catch (error) {
        expect((error as Error).message).not.toContain(bad);
      }
    }
  });
});
