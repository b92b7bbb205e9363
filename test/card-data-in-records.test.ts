import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisClient } from '../src/adapters/node/redis/client.ts';
import { AUDIT_STREAM_KEY } from '../src/adapters/node/redis/audit-stream.ts';
import { startNodeGateway, type RunningGateway } from '../src/adapters/node/server.ts';
import { policyHash } from '../src/core/policy/hash.ts';
import { capturedLogger } from './support/captured-logger.ts';
import { cardNumberForms, exposesCardNumber, TEST_CARD_NUMBERS } from './support/card-data.ts';
import { policyFromObject } from './support/policy.ts';
import { TestRedisServer } from './support/redis-server.ts';

const OPERATOR_TOKEN = 'operator-token-0123456789abcdef0123456789';

const policy = policyFromObject({
  version: 1,
  // Never reached: these tests only talk to the admin API and the request log.
  paths: [{ id: 'p0', upstream: 'http://127.0.0.1:9' }],
  probe: { enabled: false },
  routes: [
    {
      id: 'payments',
      match: { method: 'POST', path: '/v1/payments' },
      class: 'payment',
      paths: ['p0'],
    },
  ],
  // Every failed authentication is written here, so that every record can be checked for card numbers.
  admin: { failedAuthAudit: { ratePerSecond: 1000, burst: 1000 } },
});

async function start(options: { auditFile: string; redisUrl?: string }) {
  const { logger, lines } = capturedLogger();
  const running = await startNodeGateway({
    policy,
    policyHash: await policyHash(policy),
    port: 0,
    logger,
    probes: false,
    warmCodePaths: false,
    watchPolicy: false,
    dashboardDir: false,
    adminTokens: [{ name: 'ops', role: 'operator', token: OPERATOR_TOKEN }],
    auditFile: options.auditFile,
    ...(options.redisUrl ? { redisUrl: options.redisUrl } : {}),
  });
  return { running, lines };
}

/** Admin requests that put client-typed text into audit records: card numbers in the path, in a policy's field names. */
async function provoke(running: RunningGateway): Promise<number> {
  let sent = 0;
  for (const pan of TEST_CARD_NUMBERS) {
    // A query string is not audited (only the path is), so every form but that one goes in the path.
    for (const [form, text] of Object.entries(cardNumberForms(pan))) {
      if (form === 'in a query') continue;
      const answer = await fetch(`${running.url}/admin/${text}`);
      expect(answer.status).toBe(401);
      await answer.body?.cancel();
      sent++;
    }
    const rejected = await fetch(`${running.url}/admin/policy`, {
      method: 'PUT',
      headers: {
        authorization: `Bearer ${OPERATOR_TOKEN}`,
        'if-match': '*',
        'content-type': 'application/yaml',
      },
      body: `version: 1\n"${pan.slice(0, 4)} ${pan.slice(4)}": x\npaths: []\n`,
    });
    expect(rejected.status).toBe(400);
    await rejected.body?.cancel();
    sent++;
  }
  return sent;
}

function exposures(texts: string[]): string[] {
  return texts.flatMap((text) =>
    TEST_CARD_NUMBERS.filter((pan) => exposesCardNumber(text, pan)).map(
      (pan) => `${pan} in ${text}`,
    ),
  );
}

describe('card numbers typed into admin requests', () => {
  let redis: TestRedisServer;
  let dir: string;
  beforeAll(async () => {
    redis = await TestRedisServer.start();
    dir = await mkdtemp(join(tmpdir(), 'paypath-card-records-'));
  });
  afterAll(async () => {
    await redis?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('are masked in every audit record in the Redis stream, in the audit API and in every log line', async () => {
    const { running, lines } = await start({
      auditFile: join(dir, 'fallback.jsonl'),
      redisUrl: redis.url,
    });
    const client = createRedisClient(redis.url);
    try {
      const sent = await provoke(running);
      const stream = await client.xrange(AUDIT_STREAM_KEY, '-', '+');
      const records = stream.map(([, fields]) => fields[fields.indexOf('record') + 1]!);
      expect(records.length).toBe(sent);
      expect(records.filter((r) => r.includes('[pan-redacted]')).length).toBe(sent);
      expect(exposures(records)).toEqual([]);

      const api = await fetch(`${running.url}/admin/audit?limit=1000`, {
        headers: { authorization: `Bearer ${OPERATOR_TOKEN}` },
      });
      expect(exposures([await api.text()])).toEqual([]);
      expect(lines.length).toBeGreaterThanOrEqual(sent);
      expect(exposures(lines)).toEqual([]);
    } finally {
      client.disconnect();
      await running.close();
    }
  });

  it('are masked in every audit record in the JSON lines file', async () => {
    const file = join(dir, 'audit.jsonl');
    const { running, lines } = await start({ auditFile: file });
    try {
      const sent = await provoke(running);
      const records = (await readFile(file, 'utf8')).split('\n').filter((line) => line !== '');
      expect(records.length).toBe(sent);
      expect(records.filter((r) => r.includes('[pan-redacted]')).length).toBe(sent);
      expect(exposures(records)).toEqual([]);
      expect(exposures(lines)).toEqual([]);
    } finally {
      await running.close();
    }
  });
});
