/**
 * YAML syntax errors in plain words. The yaml library's messages describe its parser
 * ("Implicit map keys need to be followed by map values"); a person editing a policy needs to know
 * what to change on which line.
 */
export interface YamlErrorLike {
  code: string;
  message: string;
  linePos?: [{ line: number; col: number }, ...{ line: number; col: number }[]] | undefined;
}

const QUOTE_LIMIT = 60;

/** The sentence shown for a YAML syntax error, after "YAML syntax error: ". */
export function explainYamlError(error: YamlErrorLike, text: string): string {
  const raw = error.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
  const line = error.linePos ? (text.split(/\r?\n/)[error.linePos[0].line - 1] ?? '') : '';
  const explained = explanation(error.code, raw, line);
  const shown = line.trim();
  const quoted =
    shown === ''
      ? ''
      : ` (the line reads "${shown.length > QUOTE_LIMIT ? `${shown.slice(0, QUOTE_LIMIT - 1)}…` : shown}")`;
  return `${explained ?? raw}${quoted}`;
}

function explanation(code: string, raw: string, line: string): string | undefined {
  if (/^Flow map .* end with a \}/.test(raw))
    return 'a "{" opened above is not closed with "}" (or a line inside it is indented less than its key)';
  if (/^Flow sequence .* end with a \]/.test(raw))
    return 'a "[" opened above is not closed with "]" (or a line inside it is indented less than its key)';
  if (/^Missing closing "quote/.test(raw))
    return 'a text opened with " is not closed: add the closing " on the same line';
  if (/^Missing closing 'quote/.test(raw))
    return "a text opened with ' is not closed: add the closing ' on the same line";
  if (/^Sequence item without - indicator/.test(raw))
    return 'this line is indented like an item of the list above but is neither a "- " item nor lined up with the fields of one: check its indentation';
  if (/^Implicit map keys need to be followed by map values/.test(raw))
    return 'this line has no ": " after its field name: write "name: value", with a space after the colon';
  if (/^All mapping items must start at the same column/.test(raw))
    return 'this field is not lined up with the fields before it: fields of one section start at exactly the same column';
  switch (code) {
    case 'TAB_AS_INDENT':
      return 'this line is indented with a tab: YAML indents with spaces only';
    case 'BLOCK_AS_IMPLICIT_KEY':
    case 'MULTILINE_IMPLICIT_KEY':
      return /:\s+\S[^#]*:\s/.test(line)
        ? 'this line holds two "name:" pairs; put the value in quotes if it contains ": ", or give the nested field a line of its own'
        : 'a field here starts a section on the same line as its value, or the next line is indented too far: check the indentation';
    case 'BAD_INDENT':
      return 'this line is indented differently from the lines around it: fields of one section line up exactly, with spaces';
    case 'BAD_SCALAR_START':
      return `a value here starts with a character YAML reserves (${/reserved character (\S+)/.exec(raw)?.[1] ?? 'such as @ or `'}): put the value in quotes`;
    case 'BAD_DQ_ESCAPE':
      return 'a "\\" in a double-quoted text starts an unknown escape: write "\\\\" for a backslash, or use single quotes';
    case 'MULTIPLE_DOCS':
      return 'the file holds more than one YAML document ("---"): a policy is one document';
    case 'UNEXPECTED_TOKEN':
      return 'this line does not fit the structure above it: check its indentation and that every field reads "name: value"';
    default:
      return undefined;
  }
}
