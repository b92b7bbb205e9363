import { Hono } from 'hono';
import { PaypathError } from '../../core/errors.ts';
import { decodeBase64 } from '../../core/base64.ts';
import type { ForwardQueue } from '../../core/queue/forward-queue.ts';
import type { AppEnv } from '../env.ts';
import { QUEUE_STATUS_PATH } from '../middleware/store-and-forward/index.ts';

/** GET /v1/queue/{id}: the state of a queued request and, once forwarded, the processor's answer. */
export function queueRoutes(queue: ForwardQueue): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get(`${QUEUE_STATUS_PATH}/:id`, async (c) => {
    const id = c.req.param('id');
    const entry = /^q_[0-9a-f-]{36}$/.test(id) ? await queue.get(id) : undefined;
    if (!entry)
      throw new PaypathError(
        'queue_entry_not_found',
        404,
        `no queued request ${id} (unknown, or its outcome has expired)`,
        { details: { id } },
      );
    const { outcome, ...rest } = entry;
    return c.json({
      ...rest,
      enqueuedAt: new Date(entry.enqueuedAt).toISOString(),
      ...(entry.finishedAt !== undefined
        ? { finishedAt: new Date(entry.finishedAt).toISOString() }
        : {}),
      ...(outcome
        ? {
            outcome: {
              status: outcome.status,
              headers: Object.fromEntries(outcome.headers),
              body: new TextDecoder().decode(decodeBase64(outcome.bodyBase64)),
            },
          }
        : {}),
    });
  });
  return app;
}
