import { pino, type Logger as PinoLogger } from 'pino';
import { scrubDeep, scrubText } from '../../core/redact.ts';

/**
 * JSON logs on stdout. paypath never logs request or response bodies; the redaction list is a
 * second line of defence for fields that could carry card data or secrets if one ever slipped in.
 */
export const REDACT_PATHS = [
  'pan',
  'cvv',
  'cvc',
  'cvv2',
  'card',
  'number',
  'cardNumber',
  'card_number',
  'securityCode',
  'security_code',
  'body',
  'authorization',
  'token',
  '*.pan',
  '*.cvv',
  '*.cvc',
  '*.cvv2',
  '*.card',
  '*.number',
  '*.cardNumber',
  '*.card_number',
  '*.securityCode',
  '*.security_code',
  '*.body',
  '*.authorization',
  '*.token',
  'headers.authorization',
  'headers.cookie',
  // merchant credentials (never logged on purpose; see docs/security.md)
  'secret',
  'apiKey',
  'signature',
  '*.secret',
  '*.apiKey',
  '*.signature',
  'headers["x-paypath-signature"]',
  'headers["x-paypath-api-key"]',
];

/**
 * Every argument of a log call, scrubbed before pino reads it (src/core/redact.ts): the message
 * and its interpolation values, every field at any depth (names included), and an error given
 * first (pino takes the message from it before any formatter runs).
 */
export function scrubLogArguments(args: unknown[]): unknown[] {
  const [first, ...rest] = args;
  if (first instanceof Error)
    return [
      { err: scrubDeep(first) },
      ...(rest.length > 0 ? rest.map(scrubLogArgument) : [scrubText(first.message)]),
    ];
  return args.map(scrubLogArgument);
}

function scrubLogArgument(arg: unknown): unknown {
  return typeof arg === 'string' ? scrubText(arg) : scrubDeep(arg);
}

export function createLogger(
  options: { level?: string; destination?: NodeJS.WritableStream } = {},
): PinoLogger {
  const logger = pino(
    {
      name: 'paypath',
      level: options.level ?? process.env.LOG_LEVEL ?? 'info',
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      // Third line: card numbers (Luhn-valid 13-19 digits, whatever their spacing or encoding) and
      // card security codes are replaced in every field and in the message, whatever the field is called.
      hooks: {
        logMethod(args, method) {
          method.apply(this, scrubLogArguments(args) as Parameters<typeof method>);
        },
      },
      base: { pid: process.pid },
    },
    options.destination ?? process.stdout,
  );
  // A child's bindings are serialised once, when it is made (pino skips the bindings formatter for
  // children). Children inherit this method, so grandchildren are covered too.
  const pinoChild = logger.child;
  logger.child = function child(this: PinoLogger, bindings, childOptions) {
    return pinoChild.call(this, scrubDeep(bindings) as typeof bindings, childOptions);
  } as typeof logger.child;
  return logger;
}
