// Reading a run of card-number-like digits (see redact.ts): ASCII, full-width or percent-encoded
// digits, split into groups at the separators between them.

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

/**
 * A digit run (as redact.ts's DIGIT_RUN matched it) split into groups, digits with no separator between them:
 * group g spans run[start[g], end[g]) and holds digits[first[g]] .. digits[first[g + 1] - 1].
 * Flat arrays, one pass: a long hostile run costs no garbage per digit.
 */
export interface DigitGroups {
  count: number;
  start: Int32Array;
  end: Int32Array;
  first: Int32Array;
  digits: Uint8Array;
}

/** The byte a percent-escape at `at` stands for, through any number of encodings (`%2534` is `4`), and where it ends. */
function escapeAt(run: string, at: number): { byte: number; end: number } | undefined {
  if (run.charCodeAt(at) !== 37) return undefined;
  let next = at + 1;
  while (
    run.startsWith('25', next) &&
    isHex(run.charCodeAt(next + 2)) &&
    isHex(run.charCodeAt(next + 3))
  )
    next += 2;
  if (!isHex(run.charCodeAt(next)) || !isHex(run.charCodeAt(next + 1))) return undefined;
  return { byte: parseInt(run.slice(next, next + 2), 16), end: next + 2 };
}

export function groupsOf(run: string): DigitGroups {
  const n = run.length;
  const groups: DigitGroups = {
    count: 0,
    start: new Int32Array(n + 1),
    end: new Int32Array(n + 1),
    first: new Int32Array(n + 2),
    digits: new Uint8Array(n),
  };
  let digitCount = 0;
  let open = false;
  let at = 0;
  while (at < n) {
    const c = run.charCodeAt(at);
    let digit = -1;
    let width = 1;
    if (c >= 48 && c <= 57) digit = c - 48;
    else if (c >= 0xff10 && c <= 0xff19) digit = c - 0xff10;
    else if (c === 37 /* % */) {
      // A percent-escape: an ASCII digit (3x), a full-width one in UTF-8 (EF BC 9x), or a separator.
      const first = escapeAt(run, at);
      if (first) {
        width = first.end - at;
        if (first.byte >= 0x30 && first.byte <= 0x39) digit = first.byte - 0x30;
        else if (first.byte === 0xef) {
          const second = escapeAt(run, first.end);
          const third = second?.byte === 0xbc ? escapeAt(run, second.end) : undefined;
          if (third && third.byte >= 0x90 && third.byte <= 0x99) {
            digit = third.byte - 0x90;
            width = third.end - at;
          }
        }
      }
    }
    if (digit >= 0) {
      if (!open) {
        groups.start[groups.count] = at;
        groups.first[groups.count] = digitCount;
        open = true;
      }
      groups.digits[digitCount++] = digit;
      groups.end[groups.count] = at + width;
    } else if (open) {
      groups.count++;
      open = false;
    }
    at += width;
  }
  if (open) groups.count++;
  groups.first[groups.count] = digitCount;
  return groups;
}
