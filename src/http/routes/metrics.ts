import { Hono } from 'hono';
import type { AppEnv } from '../env.ts';

/** A metrics registry that renders Prometheus text (prom-client's Registry fits). */
export interface MetricsSource {
  readonly contentType: string;
  metrics(): Promise<string>;
}

/** GET /metrics for Prometheus. Unauthenticated like /status; it holds no request data. */
export function metricsRoutes(source: MetricsSource): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get('/metrics', async (c) =>
    c.body(await source.metrics(), 200, { 'content-type': source.contentType }),
  );
  return app;
}
