/**
 * Test card numbers, the ways they get written, and an independent check that a piece of text
 * does not expose one: decode it as far as it goes, drop everything that is not a digit, and look
 * for the number's digits. (The scrubber under test finds card numbers another way.)
 */

/** Appends the Luhn check digit to `body`. */
export function withLuhnDigit(body: string): string {
  for (let check = 0; check <= 9; check++) {
    const candidate = body + String(check);
    let sum = 0;
    for (let i = 0; i < candidate.length; i++) {
      let d = Number(candidate[candidate.length - 1 - i]);
      if (i % 2 === 1) {
        d *= 2;
        if (d > 9) d -= 9;
      }
      sum += d;
    }
    if (sum % 10 === 0) return candidate;
  }
  throw new Error('unreachable');
}

/** Luhn-valid numbers of 13 to 19 digits, as card brands issue them. */
export const TEST_CARD_NUMBERS = [
  '4111111111111111', // Visa, 16
  '5500000000000004', // Mastercard, 16
  '378282246310005', // American Express, 15
  '6011111111111117', // Discover, 16
  '4222222222222', // Visa, 13
  withLuhnDigit('35280000000000'), // JCB-like, 15
  withLuhnDigit('62000000000000000'), // UnionPay-like, 18
  withLuhnDigit('630400000000000000'), // Maestro-like, 19
];

function groups(pan: string, size = 4): string[] {
  const out: string[] = [];
  for (let i = 0; i < pan.length; i += size) out.push(pan.slice(i, i + size));
  return out;
}

const percentEncode = (text: string, levels: number) => {
  let out = text;
  for (let i = 0; i < levels; i++)
    out = [...new TextEncoder().encode(out)]
      .map((b) => (b === 0x25 ? '%25' : `%${b.toString(16).toUpperCase().padStart(2, '0')}`))
      .join('');
  return out;
};
const encodeSeparator = (separator: string, levels: number) =>
  levels === 0
    ? separator
    : percentEncode(separator, 1).replace(/%/g, `%${'25'.repeat(levels - 1)}`);

/** The same card number written the ways it reaches a URL, a header or a message. */
export function cardNumberForms(pan: string): Record<string, string> {
  const g = groups(pan);
  return {
    plain: pan,
    spaces: g.join(' '),
    dashes: g.join('-'),
    dots: g.join('.'),
    plus: g.join('+'),
    underscores: g.join('_'),
    'en dash with spaces': g.join(' \u2013 '),
    tabs: g.join('\t'),
    'amex grouping 4-6-5': [pan.slice(0, 4), pan.slice(4, 10), pan.slice(10)].join(' '),
    'percent-encoded spaces': g.join(encodeSeparator(' ', 1)),
    'double-encoded spaces': g.join(encodeSeparator(' ', 2)),
    'triple-encoded spaces': g.join(encodeSeparator(' ', 3)),
    'percent-encoded dashes': g.join(encodeSeparator('-', 1)),
    'percent-encoded plus': g.join(encodeSeparator('+', 1)),
    'percent-encoded en dash': g.join(percentEncode('\u2013', 1)),
    'percent-encoded digits': percentEncode(pan, 1),
    'double-encoded digits': [...pan].map((d) => `%25${d.charCodeAt(0).toString(16)}`).join(''),
    'full-width digits': [...pan].map((d) => String.fromCharCode(0xff10 + Number(d))).join(''),
    'percent-encoded full-width digits': encodeURIComponent(
      [...pan].map((d) => String.fromCharCode(0xff10 + Number(d))).join(''),
    ),
    'followed by a status code': `${pan} 404`,
    'between numbers': `1999 ${g.join(' ')} 404`,
    'in a path': `/v1/cards/${pan}/refunds/7`,
    'in a query': `?card=${g.join('+')}&amount=1999`,
    'glued to letters': `card${pan}x`,
  };
}

/** Decodes percent-escapes (any depth), folds full-width digits, keeps the digits only. */
export function digitsOf(text: string): string {
  let decoded = text;
  for (let i = 0; i < 10; i++) {
    const next = decoded.replace(/(?:%[0-9A-Fa-f]{2})+/g, (escapes) => {
      try {
        return decodeURIComponent(escapes);
      } catch {
        return escapes.replace(/%([0-9A-Fa-f]{2})/g, (_m, hex: string) =>
          String.fromCharCode(parseInt(hex, 16)),
        );
      }
    });
    if (next === decoded) break;
    decoded = next;
  }
  return decoded.normalize('NFKC').replace(/[^0-9]/g, '');
}

/** True when `text`, decoded and stripped to its digits, still holds `pan`. */
export function exposesCardNumber(text: string, pan: string): boolean {
  return digitsOf(text).includes(pan);
}
