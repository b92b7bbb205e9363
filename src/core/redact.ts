/**
 * Card data scrubbing for anything that leaves the process as text (logs). A run of 13 to 19
 * digits (spaces or dashes allowed between them) that passes the Luhn check is taken for a card
 * number (PAN) and replaced. Field names that carry card data are redacted by the logger itself.
 */
const PAN_CANDIDATE = /(?<![0-9])[0-9](?:[ -]?[0-9]){12,18}(?![0-9])/g;
export const PAN_REPLACEMENT = '[pan-redacted]';

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

export function scrubCardNumbers(text: string): string {
  if (!/[0-9]{4}/.test(text) && !/[0-9][ -][0-9]/.test(text)) return text;
  return text.replace(PAN_CANDIDATE, (match) => (luhnValid(match.replace(/[ -]/g, '')) ? PAN_REPLACEMENT : match));
}

/** Copies `value` with every string scrubbed (objects and arrays walked to a bounded depth). */
export function scrubDeep(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return scrubCardNumbers(value);
  if (depth > 8 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item) => scrubDeep(item, depth + 1));
  if (value instanceof Error) return { name: value.name, message: scrubCardNumbers(value.message), stack: value.stack === undefined ? undefined : scrubCardNumbers(value.stack) };
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) out[key] = scrubDeep(item, depth + 1);
  return out;
}
