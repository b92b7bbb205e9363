import { serveStatic } from '@hono/node-server/serve-static';
import type { MiddlewareHandler } from 'hono';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AppEnv } from '../../http/env.ts';

/** Where `npm run build:dashboard` (run by `npm start`, `npm test` and `npm install`) writes the dashboard. */
export const DEFAULT_DASHBOARD_DIR = fileURLToPath(
  new URL('../../../dist/dashboard/', import.meta.url),
);

/** Serves the built dashboard from `dir`; a clear 503 when it was never built. */
export function dashboardAssets(dir: string = DEFAULT_DASHBOARD_DIR): MiddlewareHandler<AppEnv> {
  if (!existsSync(join(dir, 'index.html'))) {
    return async (c) =>
      c.text(
        `the dashboard is not built (no ${join(dir, 'index.html')}): run \`npm run build:dashboard\`\n`,
        503,
      );
  }
  return serveStatic<AppEnv>({
    root: dir,
    rewriteRequestPath: (path) => path.replace(/^\/dashboard/, ''),
  });
}
