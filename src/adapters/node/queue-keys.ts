import { parseQueueKey } from '../../core/queue/queue-cipher.ts';
import { readSecretFile, SecretFileError } from './secret-file.ts';

/** Where the queue keys come from, in this order: a file (mode 0600), else the environment. */
export interface QueueKeySources {
  /** `--queue-key-file`, or PAYPATH_QUEUE_KEY_FILE. */
  file?: string | undefined;
  /** PAYPATH_QUEUE_KEY. */
  env?: string | undefined;
}

/** A queue key that cannot be used; the message names where it came from, never the key. */
export class QueueKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QueueKeyError';
  }
}

/**
 * Reads the queue keys: base64 of 32 random bytes each (`openssl rand -base64 32`), one per line
 * in the file (blank lines and `#` comments skipped) or separated by commas or white space in the
 * environment variable. The first key seals new entries; the others are previous keys, kept so
 * entries sealed before a rotation are still forwarded. None configured: an empty list.
 */
export function loadQueueKeys(sources: QueueKeySources): Uint8Array[] {
  let texts: string[];
  let where: string;
  if (sources.file !== undefined && sources.file !== '') {
    where = sources.file;
    texts = readSecretFile(sources.file)
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#'));
    if (texts.length === 0)
      throw new SecretFileError(sources.file, 'the queue key file holds no key');
  } else if (sources.env !== undefined && sources.env.trim() !== '') {
    where = 'PAYPATH_QUEUE_KEY';
    texts = sources.env.split(/[\s,]+/).filter((text) => text !== '');
  } else {
    return [];
  }
  return texts.map((text, index) => {
    try {
      return parseQueueKey(text);
    } catch (error) {
      throw new QueueKeyError(`${where}: key ${index + 1}: ${(error as Error).message}`);
    }
  });
}
