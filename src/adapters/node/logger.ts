import { pino, type Logger as PinoLogger } from 'pino';
import { scrubCardNumbers, scrubDeep } from '../../core/redact.ts';

/**
 * JSON logs on stdout. paypath never logs request or response bodies; the redaction list is a
 * second line of defence for fields that could carry card data or secrets if one ever slipped in.
 */
export const REDACT_PATHS = [
  'pan', 'cvv', 'cvc', 'cvv2', 'card', 'number', 'cardNumber', 'card_number', 'securityCode', 'security_code', 'body', 'authorization', 'token',
  '*.pan', '*.cvv', '*.cvc', '*.cvv2', '*.card', '*.number', '*.cardNumber', '*.card_number', '*.securityCode', '*.security_code', '*.body', '*.authorization', '*.token',
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
      // Third line: any string that looks like a card number (Luhn-valid 13-19 digits) is replaced,
      // in fields and in the message, whatever the field is called.
      formatters: { log: (object) => scrubDeep(object) as Record<string, unknown> },
      hooks: {
        logMethod(args, method) {
          method.apply(this, args.map((arg) => (typeof arg === 'string' ? scrubCardNumbers(arg) : arg)) as Parameters<typeof method>);
        },
      },
      base: { pid: process.pid },
    },
    options.destination ?? process.stdout,
  );
}
