import { execFile } from 'node:child_process';
import { describe, expect, it } from 'vitest';

/** The bare specifiers a fresh Node process resolves while importing `modules` (relative to this folder). */
function resolvedPackages(modules: string[]): Promise<string[]> {
  const urls = modules.map((m) => new URL(m, import.meta.url).href);
  const script = `
    import { registerHooks } from 'node:module';
    const seen = new Set();
    registerHooks({ resolve(specifier, context, next) { if (!specifier.startsWith('.') && !specifier.includes(':') && !specifier.startsWith('/')) seen.add(specifier); return next(specifier, context); } });
    for (const url of ${JSON.stringify(urls)}) await import(url);
    console.log(JSON.stringify([...seen]));`;
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--input-type=module', '-e', script],
      { timeout: 60_000 },
      (error, stdout) => (error ? reject(error) : resolve(JSON.parse(stdout) as string[])),
    );
  });
}

describe('modules the Node server loads', () => {
  it('leaves ioredis unloaded until a Redis URL is given (memory-only mode saves its ~10 MB)', async () => {
    const packages = await resolvedPackages(['./server.ts', '../../cli/main.ts']);
    expect(packages).toContain('hono');
    expect(packages).not.toContain('ioredis');
  });

  it("takes undici's Agent and connector from their own modules, not its index (fetch, WebSocket, mocks: ~12 MB)", async () => {
    const packages = await resolvedPackages(['./server.ts']);
    expect(packages).toContain('undici/lib/dispatcher/agent.js');
    expect(packages).toContain('undici/lib/core/connect.js');
    expect(packages).not.toContain('undici');
  });

  it('does load ioredis for the Redis client', async () => {
    expect(await resolvedPackages(['./redis/client.ts'])).toContain('ioredis');
  });
});
