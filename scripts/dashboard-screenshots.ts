// `npm run screenshots:dashboard`: the screenshots in docs/dashboard.md (and the README's), taken from
// the running demo (src/demo, what `npm start` runs) in the states docs/dashboard.md shows. The demo is
// driven only through its own documented controls: the carrier control API, the admin API, and the
// policy file it watches (a copy of policies/default.yaml in a temporary directory, so the repository's
// file is never broken). Every process this script starts is stopped by its PID.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { DEFAULT_DASHBOARD_DIR } from '../src/adapters/node/dashboard-assets.ts';
import { launchBrowser } from '../test/support/browser.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const DOCS = join(ROOT, 'docs');
/** Long enough for a probe, a breaker's reset timeout (5 s in the demo policy) and a dashboard poll. */
const WAIT = { timeout: 30_000 };
/** How long each state is shown before its screenshot: enough payments for the rates and charts. */
const DWELL_MS = 12_000;
const PATHS = ['kt-fiber', 'skt-fiber', 'lgu-lte'];

/** A port the kernel has free now, for the demo's gateway, control API and processor. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The demo as `npm start` runs it, on its own policy copy and ports, with an operator token of ours. */
class Demo {
  readonly child: ChildProcess;
  readonly gatewayUrl: string;
  readonly controlUrl: string;
  readonly token: string;
  readonly output: string[] = [];

  constructor(options: {
    policyFile: string;
    gatewayPort: number;
    controlPort: number;
    processorPort: number;
  }) {
    this.token = `shots-${randomBytes(12).toString('hex')}`;
    this.gatewayUrl = `http://127.0.0.1:${options.gatewayPort}`;
    this.controlUrl = `http://127.0.0.1:${options.controlPort}`;
    this.child = spawn(process.execPath, [join(ROOT, 'src/demo/main.ts')], {
      cwd: ROOT,
      env: {
        ...process.env,
        PAYPATH_POLICY: options.policyFile,
        PORT: String(options.gatewayPort),
        DEMO_CONTROL_PORT: String(options.controlPort),
        DEMO_PROCESSOR_PORT: String(options.processorPort),
        PAYPATH_ADMIN_TOKENS: `screenshots:operator:${this.token}`,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // Kept to explain a failed start; the demo's log lines name no card data.
    for (const stream of [this.child.stdout!, this.child.stderr!])
      stream.on('data', (chunk: Buffer) => this.output.push(chunk.toString()));
  }

  async ready(): Promise<void> {
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (this.child.exitCode !== null)
        throw new Error(`the demo exited with ${this.child.exitCode}:\n${this.output.join('')}`);
      const answer = await fetch(`${this.gatewayUrl}/readyz`).catch(() => null);
      if (answer?.ok) return;
      await sleep(200);
    }
    throw new Error(`the demo did not get ready in 30 s:\n${this.output.join('')}`);
  }

  /** `curl -X POST <control>/carriers/<id>/<mode>`, as the demo prints it. */
  async carrier(id: string, mode: string): Promise<void> {
    const answer = await fetch(`${this.controlUrl}/carriers/${id}/${mode}`, { method: 'POST' });
    if (!answer.ok)
      throw new Error(`carrier ${id} ${mode}: ${answer.status} ${await answer.text()}`);
  }

  async admin(method: string, path: string, body?: unknown): Promise<Response> {
    return fetch(`${this.gatewayUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${this.token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  }

  /** A new payment, as the demo's printed command makes it: its own reference and idempotency key. */
  async pay(): Promise<number> {
    const reference = `order-${randomBytes(6).toString('hex')}`;
    const answer = await fetch(`${this.gatewayUrl}/v1/payments`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': reference },
      body: JSON.stringify({ amount: 4500, currency: 'KRW', reference }),
    });
    await answer.arrayBuffer();
    return answer.status;
  }

  /** SIGTERM to the demo's PID (it stops its gateway, carriers and processor), SIGKILL if it hangs. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    process.kill(this.child.pid!, 'SIGTERM');
    const timer = setTimeout(
      () => this.child.exitCode === null && process.kill(this.child.pid!, 'SIGKILL'),
      30_000,
    );
    await exited;
    clearTimeout(timer);
  }
}

/** Payments one after another, as a till would send them, until stopped: the dashboard's shares and rates need traffic. */
function till(demo: Demo): { stop: () => Promise<void> } {
  let running = true;
  const loop = (async () => {
    while (running) {
      await demo.pay().catch(() => undefined); // a payment refused while every carrier is cut is part of the picture
      await sleep(250);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

/**
 * Shows a state the demo is in: reloads the page (its rates and charts start afresh, so they show this
 * state and not the last minute's mix), lets the payments run for a while, checks the state still holds,
 * and takes the live part of the page (banner, notices, cards, timeline): what docs/dashboard.md shows.
 */
async function state(page: Page, file: string, holds: () => Promise<void>): Promise<void> {
  await page.reload();
  await page.waitForSelector('#app:not([hidden])', WAIT);
  await holds();
  await sleep(DWELL_MS);
  await holds();
  const bottom = await page
    .locator('#timeline')
    .evaluate((el) => el.getBoundingClientRect().bottom + el.ownerDocument.defaultView!.scrollY);
  await page.screenshot({
    path: join(DOCS, file),
    clip: { x: 0, y: 0, width: 1280, height: Math.ceil(bottom) + 12 },
    fullPage: true,
  });
  console.log(`wrote docs/${file}`);
}

async function main(): Promise<void> {
  if (!existsSync(`${DEFAULT_DASHBOARD_DIR}index.html`))
    throw new Error('the dashboard is not built: run `npm run build:dashboard`');
  const dir = await mkdtemp(join(tmpdir(), 'paypath-demo-'));
  const policyFile = join(dir, 'default.yaml');
  await copyFile(join(ROOT, 'policies/default.yaml'), policyFile);
  const goodPolicy = await readFile(policyFile, 'utf8');
  const demo = new Demo({
    policyFile,
    gatewayPort: await freePort(),
    controlPort: await freePort(),
    processorPort: await freePort(),
  });
  // playwright-core closes the browser and may end this process on a signal too: the copy goes first.
  const onSignal = () => {
    rmSync(dir, { recursive: true, force: true });
    void demo.stop().then(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let browser: Awaited<ReturnType<typeof launchBrowser>> | undefined;
  let traffic: { stop: () => Promise<void> } | undefined;
  try {
    await demo.ready();
    browser = await launchBrowser();
    const page = await browser.context.newPage();
    await page.goto(`${demo.gatewayUrl}/dashboard/`);
    await page.fill('#token', demo.token);
    await page.click('#sign-in-form button[type=submit]');
    await page.waitForSelector('#app:not([hidden])', WAIT);
    traffic = till(demo);
    const inState = (selectors: string[]) => async () => {
      for (const selector of selectors) await page.waitForSelector(selector, WAIT);
    };

    // All up: N+2, every payment answered.
    await state(page, 'dashboard-all-up.png', async () => {
      await inState([
        '#redundancy-banner[data-level="N+2"]',
        ...PATHS.map((id) => `.path-card[data-path="${id}"][data-tone="ok"]`),
      ])();
      await page.waitForSelector('#payment-success:has-text("100 % succeeded")', WAIT);
    });

    // One carrier cut (the KT fiber goes silent): N+1, one spare left, kt-fiber down, skt-fiber carries.
    await demo.carrier('kt-fiber', 'blackhole');
    await state(
      page,
      'dashboard.png',
      inState([
        '.path-card[data-path="kt-fiber"][data-down="true"]',
        '#redundancy-banner[data-level="N+1"]',
        '#timeline li[data-kind="outage"]',
      ]),
    );

    // Every carrier cut: down, no card green (the last closed breaker included).
    await demo.carrier('skt-fiber', 'blackhole');
    await demo.carrier('lgu-lte', 'blackhole');
    await state(page, 'dashboard-all-cut.png', async () => {
      await page.waitForSelector('#redundancy-banner[data-level="down"]', WAIT);
      await until(
        async () => (await page.locator('.path-card[data-tone="ok"]').count()) === 0,
        'no card green',
      );
    });
    for (const id of PATHS) await demo.carrier(id, 'up');
    await inState(['#redundancy-banner[data-level="N+2"]'])();

    // An invalid policy file on disk, where the demo reads it: the running policy is kept.
    await writeFile(policyFile, 'version: 1\npaths: [\n');
    await state(
      page,
      'dashboard-invalid-policy-file.png',
      inState(['#policy-file:not([hidden])', '#timeline li[data-kind="policy"][data-tone="bad"]']),
    );
    await writeFile(policyFile, goodPolicy);
    await page.waitForSelector('#policy-file[hidden]', { ...WAIT, state: 'attached' });

    // A drill isolating both fiber paths: LTE, the spare of last resort, carries the payments.
    const drill = await demo.admin('POST', '/admin/drills', {
      paths: ['kt-fiber', 'skt-fiber'],
      durationMs: 60_000,
    });
    if (drill.status !== 202)
      throw new Error(`the drill was not started: ${drill.status} ${await drill.text()}`);
    await state(
      page,
      'dashboard-multi-path-drill.png',
      inState([
        '.path-card[data-path="kt-fiber"][data-state="isolated"]',
        '.path-card[data-path="skt-fiber"][data-state="isolated"]',
        '#timeline li[data-kind="drill"]:has-text("isolating kt-fiber + skt-fiber")',
        '.path-card[data-path="lgu-lte"] [data-figure="share"]:text-is("100 %")',
      ]),
    );
    await demo.admin('POST', '/admin/drills/stop');
  } finally {
    await traffic?.stop();
    await browser?.close();
    await demo.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Polls `check` until it holds; throws naming the state the page never reached. */
async function until(
  check: () => Promise<boolean>,
  what: string,
  timeoutMs = WAIT.timeout,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline)
      throw new Error(`the dashboard did not show ${what} within ${timeoutMs} ms`);
    await sleep(250);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
