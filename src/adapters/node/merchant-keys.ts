import type { MerchantsConfig } from '../../core/policy/schema.ts';
import { parseKeyring, type MerchantKeyring } from '../../http/middleware/merchant-auth/keyring.ts';
import { readSecretFile, SecretFileError } from './secret-file.ts';

/**
 * Loads the merchant keyring the policy's `merchants.keys` names: a JSON file of mode 0600, or an
 * environment variable holding the same JSON. Errors name the source, never a secret.
 */
export function loadMerchantKeys(
  merchants: MerchantsConfig,
  env: NodeJS.ProcessEnv = process.env,
): MerchantKeyring {
  const { file, env: variable } = merchants.keys;
  const source = file ?? `environment variable ${variable}`;
  const text = file !== undefined ? readSecretFile(file) : env[variable!];
  if (text === undefined || text.trim() === '')
    throw new SecretFileError(
      source,
      'not set; it must hold the merchant keys as JSON {"merchant-id": "secret", ...}',
    );
  try {
    return parseKeyring(text, source);
  } catch (error) {
    const message = (error as Error).message;
    throw new SecretFileError(
      source,
      message.startsWith(`${source}: `) ? message.slice(source.length + 2) : message,
    );
  }
}
