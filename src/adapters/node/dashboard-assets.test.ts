import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PaypathError } from '../../core/errors.ts';
import type { AppEnv } from '../../http/env.ts';
import { dashboardRoutes } from '../../http/routes/dashboard.ts';
import { dashboardAssets } from './dashboard-assets.ts';

function appFor(dir: string): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.onError((error) =>
    error instanceof PaypathError ? error.toResponse() : new Response('internal', { status: 500 }),
  );
  app.route('/', dashboardRoutes({ assets: dashboardAssets(dir) }));
  return app;
}

describe('dashboard assets on Node', () => {
  // The dashboard directory and, beside it, a file the dashboard must never serve: both inside a
  // directory of this run's own (the file's name is the same in every run), removed afterwards.
  let top: string;
  let dir: string;
  beforeAll(async () => {
    top = await mkdtemp(join(tmpdir(), 'paypath-dashboard-'));
    dir = join(top, 'dashboard');
    await mkdir(join(dir, 'assets'), { recursive: true });
    await writeFile(join(dir, 'index.html'), '<!doctype html><title>paypath ops</title>');
    await writeFile(join(dir, 'assets', 'index-abc123.js'), 'console.log(1)');
    await writeFile(join(top, 'paypath-dashboard-secret.txt'), 'outside');
  });
  afterAll(async () => {
    if (top) await rm(top, { recursive: true, force: true });
  });

  it('serves the page with a same-origin-only CSP and no caching, and hashed bundles for good', async () => {
    const app = appFor(dir);
    const redirect = await app.request('/dashboard');
    expect(redirect.status).toBe(308);
    expect(redirect.headers.get('location')).toBe('/dashboard/');

    const page = await app.request('/dashboard/');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(await page.text()).toContain('paypath ops');
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(page.headers.get('cache-control')).toBe('no-cache');

    const bundle = await app.request('/dashboard/assets/index-abc123.js');
    expect(bundle.status).toBe(200);
    expect(bundle.headers.get('content-type')).toContain('javascript');
    expect(bundle.headers.get('cache-control')).toContain('immutable');
  });

  it('answers 404 for unknown files and for paths that climb out of the directory', async () => {
    const app = appFor(dir);
    for (const path of [
      '/dashboard/nope.js',
      '/dashboard/../paypath-dashboard-secret.txt',
      '/dashboard/%2e%2e/paypath-dashboard-secret.txt',
      '/dashboard/assets/..%2f..%2fpaypath-dashboard-secret.txt',
    ]) {
      const response = await app.request(path);
      expect(response.status, path).toBe(404);
      expect(await response.text(), path).not.toContain('outside');
    }
  });

  it('says how to build it when the directory has no build', async () => {
    const response = await appFor(join(dir, 'missing')).request('/dashboard/');
    expect(response.status).toBe(503);
    expect(await response.text()).toContain('npm run build:dashboard');
  });
});
