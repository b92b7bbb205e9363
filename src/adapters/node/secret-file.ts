import { readFileSync, statSync } from 'node:fs';

/** A secret file that is missing, unreadable or readable by others than its owner. */
export class SecretFileError extends Error {
  readonly file: string;
  constructor(file: string, message: string) {
    super(`${file}: ${message}`);
    this.name = 'SecretFileError';
    this.file = file;
  }
}

/**
 * Reads a file holding a secret (merchant keys, a TLS private key). Refuses one that group or
 * others may read or write: it must be mode 0600 (or 0400), as ssh does for private keys.
 */
export function readSecretFile(file: string): string {
  let mode: number;
  try {
    mode = statSync(file).mode;
  } catch (error) {
    throw new SecretFileError(
      file,
      `cannot read secret file (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
    );
  }
  if ((mode & 0o077) !== 0) {
    throw new SecretFileError(
      file,
      `secret file has mode 0${(mode & 0o777).toString(8)}; it must be readable by its owner only (chmod 600)`,
    );
  }
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new SecretFileError(
      file,
      `cannot read secret file (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
    );
  }
}

/** Reads a non-secret file (a CA or certificate), naming it when that fails. */
export function readPublicFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new SecretFileError(
      file,
      `cannot read file (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
    );
  }
}
