/**
 * Card data scrubbing for anything that leaves the process as a record (log lines, audit records).
 *
 * Card numbers (PAN): a card number is 13 to 19 digits that pass the Luhn check, written in one
 * piece or in groups. Digits may be ASCII, full-width, or percent-encoded (`%34`, `%2534`, any
 * depth of encoding; full-width ones as UTF-8, `%EF%BC%94`); between groups may stand up to three separators: white space, `-`, `.`,
 * `+`, `_`, a Unicode dash, or any of these percent-encoded (`%20`, `%2520`, `%2B`, `%2D`…). Every
 * run of whole groups that adds up to 13–19 digits and passes Luhn is replaced, so a card number
 * next to another number (`4111111111111111 404`) is found too, while amounts, status codes and
 * timestamps that fail Luhn stay readable. A run of more than 19 digits without a separator is
 * not a card number and is left alone.
 *
 * Card security codes (CVV, CVC, CID…): never stored after authorisation (PCI DSS 3.3.1.2). In
 * text, the digits after such a name (`"cvc":"123"`, `cvv=123`, `%22cvc%22%3A%22123%22`) are
 * replaced; in records, fields of such names (at any depth) are.
 */
import { LRUCache } from 'lru-cache';
import { groupsOf } from './digit-groups.ts';

export const PAN_REPLACEMENT = '[pan-redacted]';
export const FIELD_REPLACEMENT = '[redacted]';

const DIGIT = String.raw`[0-9\uFF10-\uFF19]|%(?:25)*3[0-9]|%(?:25)*[Ee][Ff]%(?:25)*[Bb][Cc]%(?:25)*9[0-9]`;
const SEPARATOR = String.raw`[\s\-.+_\u2010-\u2015]|%(?:25)*(?:20|09|0[ADad]|2[BDEbde]|5[Ff]|[Ee]2%(?:25)*80%(?:25)*9[0-5])`;
/** A maximal run of digits and the separators between them (at most three in a row). */
const DIGIT_RUN = new RegExp(String.raw`(?:${DIGIT})(?:(?:${SEPARATOR}){0,3}(?:${DIGIT}))*`, 'g');

const SECURITY_CODE_NAME = String.raw`cvv2?|cvc2?|cvn|cav2|cid|csc|security[_\- ]?code|card[_\- ]?(?:verification|security)[_\- ]?(?:value|code)`;
/** Between the name and the code: quotes, colons, equals signs, spaces, or their encodings. */
const SECURITY_CODE_GAP = String.raw`(?:["'\s:=\\\]]|%(?:25)*(?:22|27|20|3[ADad]|5[CDcd]))`;
const SECURITY_CODE = new RegExp(
  String.raw`(?:(?<![A-Za-z])|(?<=%[0-9A-Fa-f]{2}))(${SECURITY_CODE_NAME})(${SECURITY_CODE_GAP}{1,12})(?:[0-9]|%(?:25)*3[0-9]){3,4}(?![0-9])`,
  'gi',
);

/** Field names (compared lower case, without `-`, `_` and spaces) whose values are never kept in a record. */
const SENSITIVE_FIELDS = new Set([
  'pan',
  'cardnumber',
  'primaryaccountnumber',
  'track1',
  'track2',
  'trackdata',
  'pinblock',
  'cvv',
  'cvv2',
  'cvc',
  'cvc2',
  'cvn',
  'cav2',
  'cid',
  'csc',
  'securitycode',
  'cardverificationvalue',
  'cardverificationcode',
  'cardsecuritycode',
  'authorization',
  'proxyauthorization',
  'cookie',
  'setcookie',
  'password',
  'secret',
  'apikey',
  'xpaypathapikey',
  'xpaypathsignature',
]);

export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

/**
 * The spans of a digit run that hold a card number: whole groups adding up to 13-19 digits that
 * pass Luhn. For each last group the Luhn sum is carried leftwards, group by group, so the work is
 * at most 19 digits per group.
 */
function cardSpans(run: string): [number, number][] {
  const { count: groupCount, start, end, first, digits } = groupsOf(run);
  const spans: [number, number][] = [];
  for (let last = 0; last < groupCount; last++) {
    let sum = 0;
    let count = 0;
    for (let g = last; g >= 0; g--) {
      if (count + first[g + 1]! - first[g]! > 19) break;
      for (let k = first[g + 1]! - 1; k >= first[g]!; k--) {
        let d = digits[k]!;
        if (count % 2 === 1) {
          d *= 2;
          if (d > 9) d -= 9;
        }
        sum += d;
        count++;
      }
      if (count >= 13 && sum % 10 === 0) spans.push([start[g]!, end[last]!]);
    }
  }
  return spans;
}

function scrubRun(run: string): string {
  const spans = cardSpans(run).sort((a, b) => a[0] - b[0]);
  if (spans.length === 0) return run;
  let out = '';
  let at = 0;
  for (const [start, end] of spans) {
    if (end <= at) continue;
    out += run.slice(at, Math.max(at, start)) + (start >= at ? PAN_REPLACEMENT : '');
    at = end;
  }
  return out + run.slice(at);
}

/**
 * Cheap pre-check (most log text has no long digit run): true when some stretch of digits,
 * separators and percent-escapes holds at least 13 digits. Anything else resets the count.
 */
function mayHoldCardNumber(text: string): boolean {
  let digits = 0;
  let hexLeft = 0; // characters still inside a percent-escape (`%` then two hex digits)
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c >= 48 && c <= 57) || (c >= 0xff10 && c <= 0xff19)) {
      if (++digits >= 13) return true;
    } else if (c === 37 /* % */) {
      hexLeft = 2;
      continue;
    } else if (hexLeft > 0 && ((c >= 65 && c <= 70) || (c >= 97 && c <= 102))) {
      // a hex letter inside a percent-escape
    } else if (!(
      c === 32 ||
      c === 45 ||
      c === 46 ||
      c === 43 ||
      c === 95 ||
      (c >= 9 && c <= 13) ||
      c === 0xa0 ||
      (c >= 0x2010 && c <= 0x2015)
    )) {
      digits = 0;
    }
    if (hexLeft > 0) hexLeft--;
  }
  return false;
}

/** Replaces every card number in `text`, whatever its spacing or encoding (see above). */
export function scrubCardNumbers(text: string): string {
  if (text.length < 13 || !mayHoldCardNumber(text)) return text;
  return text.replace(DIGIT_RUN, (run) => (run.length < 13 ? run : scrubRun(run)));
}

/** Replaces the digits of card security codes written after their name (`"cvc": "123"`, `cvv=123`). */
export function scrubSecurityCodes(text: string): string {
  if (text.length < 7 || !/c[vas]|cid|secur|verif/i.test(text)) return text;
  return text.replace(
    SECURITY_CODE,
    (_match, name: string, gap: string) => `${name}${gap}${FIELD_REPLACEMENT}`,
  );
}

/** Card numbers and security codes out of one piece of text. */
export function scrubText(text: string): string {
  return scrubSecurityCodes(scrubCardNumbers(text));
}

/** Field names seen so far (a record's names come from code, so they are few); bounded anyway. */
const fieldVerdicts = new LRUCache<string, boolean>({ max: 1_000 });

function sensitiveField(name: string): boolean {
  let verdict = fieldVerdicts.get(name);
  if (verdict === undefined) {
    verdict = SENSITIVE_FIELDS.has(name.toLowerCase().replace(/[-_ ]/g, ''));
    fieldVerdicts.set(name, verdict);
  }
  return verdict;
}

/** A whole number that reads as a card number (13-19 digits, Luhn-valid) becomes the replacement text. */
function scrubNumber(value: number | bigint): number | bigint | string {
  const digits = (
    typeof value === 'bigint' ? (value < 0n ? -value : value) : Math.abs(value)
  ).toString();
  return /^[0-9]{13,19}$/.test(digits) && luhnValid(digits) ? PAN_REPLACEMENT : value;
}

/**
 * Copies `value` for a record: every string scrubbed (scrubText), every field name too, every
 * whole number that reads as a card number replaced, and the value of every field named like
 * card data or a credential (`cvv`, `pan`, `authorization`…) replaced, at any depth (objects and
 * arrays walked to a bounded depth; deeper ones are dropped rather than copied unread).
 */
export function scrubDeep(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return scrubText(value);
  if (typeof value === 'number' || typeof value === 'bigint') return scrubNumber(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth > 32) return '[too deep]';
  if (Array.isArray(value)) return value.map((item) => scrubDeep(item, depth + 1));
  if (value instanceof Error) {
    const scrubbed: Record<string, unknown> = {
      type: value.name,
      message: scrubText(value.message),
    };
    if (value.stack !== undefined) scrubbed.stack = scrubText(value.stack);
    const code = (value as { code?: unknown }).code;
    if (code !== undefined) scrubbed.code = scrubDeep(code, depth + 1);
    return scrubbed;
  }
  if (value instanceof Date) return value.toISOString();
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    out[scrubText(key)] = sensitiveField(key) ? FIELD_REPLACEMENT : scrubDeep(item, depth + 1);
  }
  return out;
}
