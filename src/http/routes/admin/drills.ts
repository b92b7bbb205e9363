import { Hono } from 'hono';
import { PaypathError } from '../../../core/errors.ts';
import { requireRole } from '../../middleware/admin-auth/index.ts';
import { readBody } from '../../read-body.ts';
import type { AdminAppEnv, AdminDeps } from './admin-deps.ts';

/** A drill request is a path or a few and a duration: anything larger is refused (413) unread. */
const DRILL_BODY_MAX_BYTES = 16_384;

export function adminDrillRoutes(deps: AdminDeps): Hono<AdminAppEnv> {
  const app = new Hono<AdminAppEnv>();
  app.get('/drills', (c) =>
    c.json({ running: deps.drills.running(), recent: deps.drills.recent() }),
  );
  app.post('/drills', requireRole('operator', deps.audit), async (c) => {
    const bytes = await readBody(c.req.raw, DRILL_BODY_MAX_BYTES);
    let body: unknown;
    try {
      body = JSON.parse(new TextDecoder().decode(bytes ?? new Uint8Array(0)));
    } catch {
      throw new PaypathError(
        'invalid_request',
        400,
        'expected a JSON body {"path": "...", "durationMs": N} or {"paths": ["...", ...], "durationMs": N}',
      );
    }
    const { path, paths, durationMs } = (body ?? {}) as {
      path?: unknown;
      paths?: unknown;
      durationMs?: unknown;
    };
    if (path !== undefined && paths !== undefined)
      throw new PaypathError('invalid_request', 400, 'give path or paths, not both', {
        details: { field: 'paths' },
      });
    if (paths !== undefined) {
      if (
        !Array.isArray(paths) ||
        paths.length === 0 ||
        !paths.every((id) => typeof id === 'string' && id !== '')
      ) {
        throw new PaypathError(
          'invalid_request',
          400,
          'paths must be a non-empty list of path ids',
          { details: { field: 'paths' } },
        );
      }
    } else if (typeof path !== 'string' || path === '')
      throw new PaypathError('invalid_request', 400, 'path must be a path id', {
        details: { field: 'path' },
      });
    if (typeof durationMs !== 'number')
      throw new PaypathError('invalid_request', 400, 'durationMs must be a number of ms', {
        details: { field: 'durationMs' },
      });
    const drill = await deps.drills.start({
      ...(paths !== undefined ? { paths: paths as string[] } : { path: path as string }),
      durationMs,
      actor: c.get('admin').name,
      trigger: 'api',
    });
    return c.json(drill, 202);
  });
  app.post('/drills/stop', requireRole('operator', deps.audit), async (c) => {
    const running = deps.drills.running();
    await deps.drills.stop();
    return c.json({ stopped: running?.id ?? null });
  });
  return app;
}
