import { pino, type Logger as PinoLogger } from 'pino';

/**
 * JSON logs on stdout. paypath never logs request or response bodies; the redaction list is a
 * second line of defence for fields that could carry card data or secrets if one ever slipped in.
 */
export const REDACT_PATHS = [
  'pan', 'cvv', 'cvc', 'card', 'number', 'body', 'authorization', 'token',
  '*.pan', '*.cvv', '*.cvc', '*.card', '*.number', '*.body', '*.authorization', '*.token',
  'headers.authorization', 'headers.cookie',
  // merchant credentials (never logged on purpose; see docs/security.md)
  'secret', 'apiKey', 'signature', '*.secret', '*.apiKey', '*.signature',
  'headers["x-paypath-signature"]', 'headers["x-paypath-api-key"]',
];

export function createLogger(options: { level?: string; destination?: NodeJS.WritableStream } = {}): PinoLogger {
  return pino(
    {
      name: 'paypath',
      level: options.level ?? process.env.LOG_LEVEL ?? 'info',
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      base: { pid: process.pid },
    },
    options.destination ?? process.stdout,
  );
}
