import { describe, expect, it } from 'vitest';
import { commandHelp, wantsHelp } from './command-help.ts';

const USAGE = `tool: does things

Usage:
  tool run FILE [--fast]         run it
                                 (env TOOL_FILE)
  tool stop                      stop it
  tool peek                      look

Options of stop, peek (they talk to a server):
  --url URL                      where

Exit status: 0 ok.`;

describe('commandHelp', () => {
  it("cuts one command's lines and the option sections naming it", () => {
    expect(commandHelp(USAGE, 'run')).toBe(
      'Usage:\n  tool run FILE [--fast]         run it\n                                 (env TOOL_FILE)',
    );
    expect(commandHelp(USAGE, 'peek')).toBe(
      'Usage:\n  tool peek                      look\n\nOptions of stop, peek (they talk to a server):\n  --url URL                      where',
    );
    expect(commandHelp(USAGE, 'walk')).toBeUndefined();
  });
});

describe('wantsHelp', () => {
  it('sees --help or -h before --', () => {
    expect(wantsHelp(['x', '--help'])).toBe(true);
    expect(wantsHelp(['-h'])).toBe(true);
    expect(wantsHelp(['--', '--help'])).toBe(false);
    expect(wantsHelp(['--helpful'])).toBe(false);
  });
});
