// The ops dashboard in a real browser (Debian's Chromium driven by playwright-core) against a
// gateway with three simulated carriers on free loopback ports. Screenshots go to artifacts/dashboard/.
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { writeFile } from 'node:fs/promises';
import { DEFAULT_DASHBOARD_DIR } from '../src/adapters/node/dashboard-assets.ts';
import { PolicyWatcher } from '../src/adapters/node/policy-watcher.ts';
import { silentLogger } from '../src/core/logger.ts';
import { launchBrowser } from './support/browser.ts';
import { OpsStack, TOKENS } from './support/ops-harness.ts';

const ARTIFACTS = fileURLToPath(new URL('../artifacts/dashboard/', import.meta.url));
const WAIT = { timeout: 15_000 };

describe('ops dashboard in Chromium', () => {
  let stack: OpsStack;
  let browser: Awaited<ReturnType<typeof launchBrowser>>;
  let context: BrowserContext;
  /** Pages this test opened, closed after it (they poll its gateway). */
  const pages: Page[] = [];

  const shot = (page: Page, name: string) =>
    page.screenshot({ path: `${ARTIFACTS}${name}.png`, fullPage: true });
  /** The live part only (banner, cards, timeline): what docs/dashboard.md shows of each state. */
  const liveShot = async (page: Page, name: string) => {
    const bottom = await page
      .locator('#timeline')
      .evaluate((el) => el.getBoundingClientRect().bottom + el.ownerDocument.defaultView!.scrollY);
    await page.screenshot({
      path: `${ARTIFACTS}${name}.png`,
      clip: { x: 0, y: 0, width: 1280, height: Math.ceil(bottom) + 12 },
      fullPage: true,
    });
  };

  async function signIn(token: string): Promise<Page> {
    const page = await context.newPage();
    pages.push(page);
    await page.goto(`${stack.gateway.url}/dashboard`);
    await page.fill('#token', token);
    await page.click('#sign-in-form button[type=submit]');
    await page.waitForSelector('#app:not([hidden])', WAIT);
    return page;
  }

  /** Replaces the editor's whole text the way a person pasting would. */
  async function setEditorText(page: Page, text: string): Promise<void> {
    await page.click('.cm-content');
    await page.keyboard.press('Control+A');
    await page.keyboard.insertText(text);
  }

  beforeAll(async () => {
    if (!existsSync(`${DEFAULT_DASHBOARD_DIR}index.html`))
      throw new Error('the dashboard is not built: run `npm run build:dashboard` (npm test does)');
    await mkdir(ARTIFACTS, { recursive: true });
    browser = await launchBrowser();
    context = browser.context;
  });
  afterAll(async () => browser?.close());

  // A fresh gateway per test (one browser for all): cuts, drills, revisions and pages of one test
  // are never what another starts from.
  beforeEach(async () => {
    stack = await OpsStack.start();
  });
  afterEach(async () => {
    for (const page of pages.splice(0)) await page.close();
    await stack?.stop();
  });

  it('shows a cut carrier: its card turns red and the banner drops to N+1 with the repair call', async () => {
    const operator = await signIn(TOKENS.operator);
    await operator.waitForSelector('#redundancy-banner[data-level="N+2"]', WAIT);
    await operator.waitForSelector('.path-card[data-path="kt-fiber"][data-state="closed"]', WAIT);
    expect(await operator.locator('.path-card').count()).toBe(3);
    // The favicon comes with the page (no request that would 404 outside /dashboard/).
    expect(await operator.getAttribute('link[rel="icon"]', 'href')).toMatch(
      /^data:image\/svg\+xml,/,
    );
    for (let i = 0; i < 3; i++) expect((await stack.pay(`dash-up-${i}`)).status).toBe(201);
    await operator.waitForSelector(
      '.path-card[data-path="kt-fiber"][data-tone="ok"] .state:text-is("up")',
      WAIT,
    );
    await operator.waitForSelector('#payment-success:has-text("100 % succeeded")', WAIT);
    await liveShot(operator, '1-all-paths-up');

    await stack.carrier('kt-fiber').setMode({ mode: 'refuse' });
    // Payments keep succeeding on the next path while kt-fiber's breaker counts the refusals.
    for (let i = 0; i < 6; i++) {
      const response = await stack.pay(`dash-cut-${i}`);
      await response.arrayBuffer();
      expect(response.status).toBe(201);
    }
    expect(stack.gateway.gateway.status().paths.find((p) => p.id === 'kt-fiber')!.state).toBe(
      'open',
    );

    const card = operator.locator('.path-card[data-path="kt-fiber"]');
    await operator.waitForSelector('.path-card[data-path="kt-fiber"][data-state="open"]', WAIT);
    // Down, with how long, the last success and the last error; no stale latency figures.
    expect(await card.locator('.state').textContent()).toMatch(/^down for \d+s$/);
    expect(await card.getAttribute('data-down')).toBe('true');
    expect(await card.locator('[data-figure="p50"]').textContent()).toBe('—');
    expect(await card.locator('.probe').textContent()).toMatch(
      /last success \d+s ago · last error \w+/,
    );
    // Red: the breaker-open colour on the card's edge.
    expect(
      await card.evaluate(
        (el) => el.ownerDocument.defaultView!.getComputedStyle(el).borderLeftColor,
      ),
    ).toBe('rgb(207, 34, 46)');
    // skt-fiber carried the payments kt-fiber refused: its share and rate show it.
    await operator.waitForSelector(
      '.path-card[data-path="skt-fiber"] [data-figure="share"]:not(:text-is("—"))',
      WAIT,
    );
    expect(await operator.getAttribute('.path-card[data-path="skt-fiber"]', 'data-state')).toBe(
      'closed',
    );

    const banner = operator.locator('#redundancy-banner');
    await operator.waitForSelector('#redundancy-banner[data-level="N+1"]', WAIT);
    expect(await banner.getAttribute('data-tone')).toBe('warn');
    expect(await banner.textContent()).toContain('one spare left: repair now');
    await operator.waitForSelector('#timeline li[data-kind="outage"]', WAIT);
    expect(await operator.locator('#timeline').textContent()).toContain('kt-fiber down since');
    await liveShot(operator, '2-carrier-cut-n+1');

    // A drill asks first: cancelling starts nothing; confirming isolates the path.
    const drill = operator.locator('.path-card[data-path="lgu-lte"] button.drill');
    await drill.click();
    await operator.waitForSelector('#confirm-dialog[open]', WAIT);
    await operator.click('#confirm-dialog button[value="cancel"]');
    expect(stack.gateway.drills.running()).toBeNull();
    await drill.click();
    await operator.waitForSelector('#confirm-dialog[open]', WAIT);
    expect(await operator.textContent('#confirm-title')).toBe('Drill lgu-lte?');
    await operator.click('#confirm-ok');
    await operator.waitForSelector('.path-card[data-path="lgu-lte"][data-state="isolated"]', WAIT);
    expect(stack.gateway.drills.running()?.path).toBe('lgu-lte');
    await operator.waitForSelector('#timeline li[data-kind="drill"]', WAIT);
    await shot(operator, '2b-drill-running');
    // The drilled path's button ends the drill early.
    await operator.waitForSelector(
      '.path-card[data-path="lgu-lte"] button.drill:has-text("Stop drill")',
      WAIT,
    );
    await drill.click();
    await operator.waitForSelector('.path-card[data-path="lgu-lte"][data-state="closed"]', WAIT);
    expect(stack.gateway.drills.running()).toBeNull();
  });

  it('edits the policy: an error at the right line, then fixed, reviewed and applied as a new revision', async () => {
    const page = await signIn(TOKENS.operator);
    await page.waitForSelector('#policy-revision[data-revision="1"]', WAIT);
    const running = (await (await stack.admin('GET', '/admin/policy')).json()) as {
      policy: unknown;
    };
    // The same serialisation the dashboard shows, so the test knows which line it breaks.
    const original = stringify(running.policy, { lineWidth: 0 });
    expect(original).toContain('attemptTimeoutMs: 400');
    const bad = original.replace('attemptTimeoutMs: 400', 'attemptTimeoutMs: -5');
    const badLine = bad.split('\n').findIndex((line) => line.includes('attemptTimeoutMs: -5')) + 1;

    await setEditorText(page, bad);
    await page.waitForSelector('#policy-validity[data-tone="bad"]', WAIT);
    const issue = page.locator('#policy-issues li');
    expect(await issue.count()).toBe(1);
    expect(await issue.getAttribute('data-line')).toBe(String(badLine));
    expect(await issue.getAttribute('data-path')).toBe('routes[0].attemptTimeoutMs');
    // CodeMirror underlines the offending field on that line.
    await page.waitForSelector('.cm-lintRange-error', WAIT);
    expect(
      await page
        .locator('.cm-lintRange-error')
        .first()
        .evaluate((el) => el.closest('.cm-line')?.textContent),
    ).toContain('attemptTimeoutMs: -5');
    expect(await page.isDisabled('#apply-button')).toBe(true);
    await shot(page, '3-policy-validation-error');

    await setEditorText(page, original.replace('attemptTimeoutMs: 400', 'attemptTimeoutMs: 450'));
    await page.waitForSelector('#policy-validity[data-tone="ok"]', WAIT);
    expect(await page.locator('#policy-issues li').count()).toBe(0);
    await page.click('#review-button');
    await page.waitForSelector('#diff-panel table.diff', WAIT);
    const rows = page.locator('#diff-panel tbody tr');
    expect(await rows.count()).toBe(1);
    expect(await rows.first().textContent()).toContain('routes[id=payments].attemptTimeoutMs');
    await shot(page, '4-policy-diff');

    await page.click('#apply-button');
    await page.waitForSelector('#confirm-dialog[open]', WAIT);
    await page.click('#confirm-ok');
    await page.waitForSelector('#policy-revision[data-revision="2"]', WAIT);
    expect(await page.textContent('#toast')).toContain('applied: revision 2');
    // The history table is fetched again after the apply: wait for it rather than read it at once.
    await page.waitForSelector('#history tr.current[data-revision="2"]', WAIT);
    expect(await page.getAttribute('#history tr.current', 'data-revision')).toBe('2');
    const current = stack.gateway.control.current();
    expect(current.revision).toBe(2);
    expect(current.actor).toBe('alice');
    expect(current.policy.routes[0]!.attemptTimeoutMs).toBe(450);
    await shot(page, '5-policy-applied');
  });

  it('gives a viewer a read-only dashboard, and the API refuses the viewer an apply', async () => {
    const wrong = await context.newPage();
    await wrong.goto(`${stack.gateway.url}/dashboard/`);
    await wrong.fill('#token', 'not-a-configured-token-123');
    await wrong.click('#sign-in-form button[type=submit]');
    await wrong.waitForSelector('#sign-in-error:has-text("not accepted")', WAIT);
    expect(await wrong.isHidden('#app')).toBe(true);
    await wrong.close();

    const page = await signIn(TOKENS.viewer);
    expect(await page.textContent('#who')).toContain('viewer (read-only)');
    await page.waitForSelector('.path-card', WAIT);
    await page.waitForSelector('#policy-revision[data-revision="1"]', WAIT);
    expect(await page.isVisible('#policy-readonly')).toBe(true);
    expect(await page.isHidden('#apply-button')).toBe(true);
    expect(await page.isHidden('#review-button')).toBe(true);
    expect(await page.locator('.path-card button.drill').count()).toBe(0);
    expect(await page.locator('#history button').count()).toBe(0);
    expect(await page.getAttribute('.cm-content', 'contenteditable')).toBe('false');
    await shot(page, '6-viewer-read-only');

    // Even with the buttons gone, a viewer's token cannot apply: the API answers 403.
    const answer = await page.evaluate(async () => {
      const token = sessionStorage.getItem('paypath.adminToken')!;
      const response = await fetch('/admin/policy', {
        method: 'PUT',
        headers: {
          authorization: `Bearer ${token}`,
          'if-match': '*',
          'content-type': 'application/yaml',
        },
        body: 'version: 1\n',
      });
      return {
        status: response.status,
        body: (await response.json()) as { error: { code: string } },
      };
    });
    expect(answer.status).toBe(403);
    expect(answer.body.error.code).toBe('admin_forbidden');
    expect(stack.gateway.control.current().revision).toBe(1);
  });

  it('shows an invalid policy file on disk, then a drill of both fiber paths that LTE carries', async () => {
    const page = await signIn(TOKENS.operator);
    const watcher = new PolicyWatcher({
      file: stack.policyFile,
      control: stack.gateway.control,
      logger: silentLogger,
    });
    try {
      await writeFile(stack.policyFile, 'version: 1\npaths: [\n');
      await watcher.reload();
      await page.waitForSelector('#policy-file:not([hidden])', WAIT);
      expect(await page.textContent('#policy-file')).toContain(
        `${stack.policyFile} on disk is INVALID`,
      );
      await page.waitForSelector('#timeline li[data-kind="policy"][data-tone="bad"]', WAIT);
      await liveShot(page, '8-invalid-policy-file');
      // Fixed on disk (and changed, so the reload makes a new revision): the notice goes, and the
      // reload is on the timeline.
      const fixed = stack.policy();
      fixed.routes[0]!.attemptTimeoutMs = 450;
      await writeFile(stack.policyFile, stringify(fixed));
      await watcher.reload();
      await page.waitForSelector('#policy-file[hidden]', { ...WAIT, state: 'attached' });
      await page.waitForSelector(
        '#timeline li[data-kind="policy"]:has-text("reloaded from the policy file")',
        WAIT,
      );
      // The timeline keeps the invalid file once it is fixed.
      expect(await page.locator('#timeline li[data-kind="policy"][data-tone="bad"]').count()).toBe(
        1,
      );
    } finally {
      watcher.close();
    }

    const started = await stack.admin('POST', '/admin/drills', {
      body: JSON.stringify({ paths: ['kt-fiber', 'skt-fiber'], durationMs: 60_000 }),
      headers: { 'content-type': 'application/json' },
    });
    expect(started.status).toBe(202);
    await page.waitForSelector('.path-card[data-path="skt-fiber"][data-state="isolated"]', WAIT);
    await page.waitForSelector('.path-card[data-path="kt-fiber"][data-state="isolated"]', WAIT);
    try {
      for (let i = 0; i < 4; i++) expect((await stack.pay(`dash-drill-${i}`)).status).toBe(201);
      await page.waitForSelector(
        '#timeline li[data-kind="drill"]:has-text("isolating kt-fiber + skt-fiber")',
        WAIT,
      );
      // Both drilled paths' buttons end the drill; the spare of last resort's waits.
      expect(await page.textContent('.path-card[data-path="skt-fiber"] button.drill')).toBe(
        'Stop drill',
      );
      expect(await page.isDisabled('.path-card[data-path="lgu-lte"] button.drill')).toBe(true);
      await page.waitForSelector(
        '.path-card[data-path="lgu-lte"] [data-figure="share"]:not(:text-is("—")):not(:text-is("0 %"))',
        WAIT,
      );
      await liveShot(page, '9-multi-path-drill');
      await page.click('.path-card[data-path="kt-fiber"] button.drill');
      await page.waitForSelector(
        '#timeline li[data-kind="drill"]:has-text("on kt-fiber + skt-fiber passed")',
        WAIT,
      );
      expect(await page.textContent('#timeline')).toContain('carried by lgu-lte 4');
      await page.waitForSelector(
        '.path-card[data-path="lgu-lte"] .proof:has-text("last proven by a drill")',
        WAIT,
      );
    } finally {
      await stack.gateway.drills.stop();
    }
  });

  it('shows every carrier cut as down, not green, although the last breaker stays closed', async () => {
    const page = await signIn(TOKENS.viewer);
    await page.waitForSelector('.path-card[data-path="skt-fiber"][data-state="closed"]', WAIT);
    const ids = ['kt-fiber', 'skt-fiber', 'lgu-lte'];
    for (const id of ids) await stack.carrier(id).setMode({ mode: 'blackhole' });
    try {
      // Probes open all but the last path; the every-path-down rule catches the rest.
      await page.waitForSelector('#redundancy-banner[data-level="down"]', WAIT);
      expect(await page.getAttribute('#redundancy-banner', 'data-tone')).toBe('down');
      const closed = page.locator('.path-card[data-state="closed"]');
      await page.waitForSelector('.path-card[data-state="closed"][data-tone="down"]', WAIT);
      expect(await closed.locator('.state').textContent()).toMatch(/^down for \d+s$/);
      expect(await page.locator('.path-card[data-tone="ok"]').count()).toBe(0);
      await liveShot(page, '7-every-path-down');
    } finally {
      for (const id of ids) await stack.carrier(id).setMode({ mode: 'up' });
    }
    await page.waitForSelector('#redundancy-banner:not([data-level="down"])', WAIT);
  });
});
