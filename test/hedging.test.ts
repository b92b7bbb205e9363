import { afterEach, describe, expect, it } from 'vitest';
import { DetectionRig, pay } from './support/detection-harness.ts';
import { UnacceptedListener } from './support/unaccepted-listener.ts';

describe('connect hedging', () => {
  let rig: DetectionRig | undefined;
  let listener: UnacceptedListener | undefined;
  afterEach(async () => {
    await rig?.stop();
    await listener?.stop();
    rig = listener = undefined;
  });

  async function setUp(hedgeConnectMs: number | undefined) {
    rig = await DetectionRig.start(['b']);
    listener = await UnacceptedListener.start();
    const policy = rig.policy();
    policy.paths = [
      { id: 'a', upstream: listener.url, grade: 'hot', connectTimeoutMs: 1_000 },
      ...policy.paths,
    ];
    policy.routes = policy.routes.map((r) => ({
      ...r,
      paths: ['a', 'b'],
      attemptTimeoutMs: 2_000,
      ...(hedgeConnectMs ? { hedgeConnectMs } : {}),
    }));
    return rig.gateway(policy);
  }

  it('sends on the second path when the first path cannot connect, charging once', async () => {
    const gateway = await setUp(50);
    const answer = await pay(gateway);
    // One attempt: the request was written only on b; a's connect was abandoned with nothing sent.
    expect(answer).toMatchObject({ status: 201, path: 'b', attempts: 1 });
    expect(rig!.processor.charges).toHaveLength(1);
    expect(rig!.processor.duplicateCharges).toBe(0);
  });

  it('opens a path whose handshakes never complete once the losing connects time out, with no payment failing', async () => {
    const gateway = await setUp(50);
    // Probes are off: only the connects that lost the hedge race (each given up after a's 1 s
    // connect timeout) can tell the breaker about a.
    const answers = await Promise.all(Array.from({ length: 5 }, () => pay(gateway)));
    expect(answers.map((a) => `${a.status} ${a.path}`)).toEqual(Array(5).fill('201 b'));
    const pathA = async () =>
      (
        (await (await fetch(`${gateway.url}/status`)).json()) as {
          paths: { id: string; state: string; transitions: { reason: string }[] }[];
        }
      ).paths.find((p) => p.id === 'a')!;
    await expect
      .poll(async () => (await pathA()).state, { timeout: 5_000, interval: 100 })
      .toBe('open');
    expect((await pathA()).transitions.at(-1)?.reason).toMatch(/failures$/);
    expect(await pay(gateway)).toMatchObject({ status: 201, path: 'b', attempts: 1 });
    expect(rig!.processor.charges).toHaveLength(6);
    expect(rig!.processor.duplicateCharges).toBe(0);
  });

  it('without hedging the same payment first spends an attempt timing out on the first path', async () => {
    const gateway = await setUp(undefined);
    const answer = await pay(gateway);
    expect(answer).toMatchObject({ status: 201, path: 'b', attempts: 2 });
    const status = (await (await fetch(`${gateway.url}/status`)).json()) as {
      paths: { id: string; lastError: { code: string } | null }[];
    };
    expect(status.paths.find((p) => p.id === 'a')?.lastError?.code).toBe('connect_timeout');
    expect(rig!.processor.charges).toHaveLength(1);
  });
});
