import { describe, expect, it } from 'vitest';
import type { PaypathError } from '../../../core/errors.ts';
import { MINIMAL_POLICY_YAML, policyFrom } from '../../../../test/support/policy.ts';
import { idempotencyKey, MAX_IDEMPOTENCY_KEY_LENGTH } from './key.ts';

const route = policyFrom(MINIMAL_POLICY_YAML).routes[0]!;
const requiring = { ...route, idempotency: { ...route.idempotency, require: true } };
const withKey = (key: string) => new Headers({ [route.idempotency.header]: key });

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
    return undefined;
  } catch (error) {
    return (error as PaypathError).code;
  }
}

describe('idempotencyKey', () => {
  it('keeps a valid client key', () => {
    expect(idempotencyKey(route, withKey('order-42'))).toEqual({
      key: 'order-42',
      generated: false,
    });
    expect(idempotencyKey(route, withKey('k'.repeat(MAX_IDEMPOTENCY_KEY_LENGTH))).generated).toBe(
      false,
    );
  });

  it('generates a distinct key when the client sent none', () => {
    const first = idempotencyKey(route, new Headers());
    const second = idempotencyKey(route, new Headers());
    expect(first.generated).toBe(true);
    expect(first.key).toMatch(/^pp_[0-9a-f-]{36}$/);
    expect(second.key).not.toBe(first.key);
  });

  it.each([
    ['empty', ''],
    ['too long', 'k'.repeat(MAX_IDEMPOTENCY_KEY_LENGTH + 1)],
    ['with a space', 'order 42'],
    ['not ASCII', 'order-4²'],
  ])('refuses a key that is %s', (_name, key) => {
    expect(codeOf(() => idempotencyKey(route, withKey(key)))).toBe('idempotency_key_invalid');
  });

  it('refuses a request without a key on a route that requires one', () => {
    expect(codeOf(() => idempotencyKey(requiring, new Headers()))).toBe('idempotency_key_required');
  });
});
