/**
 * One command's help, cut from the whole usage text so the two never disagree: the lines from
 * `  paypath COMMAND` up to the next command, plus every "Options of …" section naming it.
 */
export function commandHelp(usage: string, command: string): string | undefined {
  const lines = usage.split('\n');
  const isCommandLine = (line: string) => /^ {2}[a-z][a-z0-9-]* \S/.test(line);
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!isCommandLine(lines[i]!) || lines[i]!.split(/\s+/)[2] !== command) continue;
    out.push(lines[i]!);
    for (i++; i < lines.length && /^ {3,}\S/.test(lines[i]!) && !isCommandLine(lines[i]!); i++)
      out.push(lines[i]!);
    i--;
  }
  if (out.length === 0) return undefined;
  const sections = usage.split(/\n\n+/).filter((section) => {
    const heading = /^Options of ([^:]+):/.exec(section)?.[1];
    return heading !== undefined && heading.split(/[\s,]+/).includes(command);
  });
  return ['Usage:', ...out, ...sections.map((section) => `\n${section}`)].join('\n');
}

/** Whether the arguments ask for help (`--help` or `-h` before any `--`). */
export function wantsHelp(args: readonly string[]): boolean {
  const end = args.indexOf('--');
  return (end === -1 ? args : args.slice(0, end)).some((arg) => arg === '--help' || arg === '-h');
}
