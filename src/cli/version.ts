import { readFileSync } from 'node:fs';

/** paypath's version, from the package.json it ships with. */
export function paypathVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version?: string;
  };
  return pkg.version ?? 'unknown';
}
