/** Merchant id → secret. Loaded by the runtime adapter from the environment or a 0600 file; never from the policy. */
export type MerchantKeyring = ReadonlyMap<string, string>;

export const MERCHANT_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;
export const MIN_SECRET_LENGTH = 32;

/**
 * Parses the keyring JSON `{"merchant-id": "secret", ...}`. Errors name the merchant but never
 * echo a secret.
 */
export function parseKeyring(text: string, source: string): MerchantKeyring {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new Error(
      `${source}: merchant keys must be a JSON object {"merchant-id": "secret", ...}`,
    );
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new Error(
      `${source}: merchant keys must be a JSON object {"merchant-id": "secret", ...}`,
    );
  }
  const keys = new Map<string, string>();
  for (const [id, secret] of Object.entries(raw)) {
    if (!MERCHANT_ID_PATTERN.test(id))
      throw new Error(
        `${source}: merchant id ${JSON.stringify(id.slice(0, 64))} must be lowercase letters, digits and "-"`,
      );
    if (typeof secret !== 'string' || secret.length < MIN_SECRET_LENGTH) {
      throw new Error(
        `${source}: the secret of merchant "${id}" must be a string of at least ${MIN_SECRET_LENGTH} characters`,
      );
    }
    keys.set(id, secret);
  }
  if (keys.size === 0) throw new Error(`${source}: no merchant keys`);
  return keys;
}
