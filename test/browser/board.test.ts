import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { QueueEvents } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { z } from 'zod';
import { JOBS } from '../../jobs';
import { buildRegistry, defineJob, done } from '../../jobs/define-job';
import { buildApp } from '../../server/app';
import { listen } from '../../lib/listen';
import { testConfig } from '../support/env';
import { openTestHub, type TestHub } from '../support/hub';
import { testQueueEvents } from '../support/queues';
import { track } from '../support/resources';
import { BOARD_ADMIN, greetJob, refuseJob } from '../support/board';

/** Debian's chromium (`apt-get install chromium`; .ci/run installs it): never a downloaded browser. */
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
/** The last page seen, for a person to look at when this test fails. */
const SCREENSHOT = join(tmpdir(), 'jobhub-board.png');

const ADMIN = BOARD_ADMIN;

const settle = defineJob({
  name: 'test-settle',
  queue: 'payments',
  description: 'settles later',
  payload: z.object({ orderNo: z.string() }),
  handle: async () => done({}),
});
const text = defineJob({
  name: 'test-text',
  queue: 'sms',
  description: 'waits for a worker',
  payload: z.object({ templateKey: z.string() }),
  handle: async () => done({}),
});
const registry = buildRegistry([...JOBS, greetJob, refuseJob, settle, text]);

describe('the dashboard in a real browser', () => {
  let hub: TestHub;
  let app: FastifyInstance;
  let events: QueueEvents;
  let origin: string;
  let context: BrowserContext;
  let userDataDir: string;
  let failedId: string;

  beforeAll(async () => {
    // Fails, never skips: a missing browser must not pass for a dashboard that works.
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium), as .ci/run does`);
    hub = await openTestHub(__filename, { registry });
    const config = testConfig({ HUB_QUEUE_PREFIX: hub.prefix, BOARD_USERNAME: ADMIN.username, BOARD_PASSWORD: ADMIN.password });
    app = await buildApp({ config, log: hub.log, db: hub.db, redis: hub.redis, queues: hub.queues, registry });
    origin = `http://127.0.0.1:${await listen(app, 0)}`;
    events = await testQueueEvents('messages', hub.prefix);
    failedId = await seedJobs();

    userDataDir = mkdtempSync(join(tmpdir(), 'jobhub-chromium-'));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      httpCredentials: ADMIN,
      viewport: { width: 1280, height: 900 },
    });
    let open = true;
    context.on('close', () => (open = false));
    track({ kind: 'closable', value: { isOpen: () => open }, label: 'chromium' });
  });
  afterAll(async () => {
    await context?.close();
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
    await events?.close();
    await app?.close();
    await hub?.close();
  });

  /** A completed and a failed job on messages, a delayed one on payments, a waiting one on sms. */
  async function seedJobs(): Promise<string> {
    const failed = await hub.enqueue(refuseJob, { orderNo: 'A' });
    const completed = await hub.enqueue(greetJob, { memberId: '7' });
    const pool = hub.startWorkers(['messages']);
    try {
      const queue = hub.queues.get('messages');
      await expect((await queue.getJob(failed.id))?.waitUntilFinished(events, 10_000)).rejects.toThrow(/NOT_ALLOWED/);
      await (await queue.getJob(completed.id))?.waitUntilFinished(events, 10_000);
    } finally {
      await pool.close();
    }
    await hub.enqueue(settle, { orderNo: 'B' }, { delay: 3_600_000 });
    await hub.enqueue(text, { templateKey: 'welcome' });
    return failed.id;
  }

  /** Everything the page reported as wrong: console errors, uncaught exceptions, CSP violations. */
  async function watch(page: Page): Promise<string[]> {
    const problems: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console: ${message.text()}`);
    });
    page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
    await page.exposeBinding('reportCspViolation', (_source, violation: string) => problems.push(`csp: ${violation}`));
    // Runs in the page before its own scripts, outside its CSP (a string: the test is compiled without DOM types).
    await page.addInitScript(`
      document.addEventListener('securitypolicyviolation', (e) => {
        void window.reportCspViolation(e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline') + ' (' + e.sourceFile + ':' + e.lineNumber + ')');
      });
    `);
    return problems;
  }

  it('renders the queues and a job, with the security headers and no console error or CSP violation', async () => {
    const page = await context.newPage();
    const problems = await watch(page);
    try {
      const response = await page.goto(`${origin}/admin/queues`);
      expect(response?.status()).toBe(200);
      const headers = response?.headers() ?? {};
      expect(headers['content-security-policy']).toMatch(/frame-ancestors 'none'/);
      expect(headers['content-security-policy']).toMatch(/script-src 'self'(;|$)/);
      expect(headers['x-content-type-options']).toBe('nosniff');
      expect(headers['x-frame-options']).toBe('DENY');
      expect(headers['referrer-policy']).toBe('no-referrer');

      for (const queue of ['payments', 'messages', 'sms']) {
        await page.getByRole('link', { name: queue, exact: true }).first().waitFor({ timeout: 15_000 });
      }
      const data = page.waitForResponse((r) => r.url().includes('/admin/queues/api/queues'));
      await page.goto(`${origin}/admin/queues/queue/messages?status=failed`);
      expect((await data).headers()['cache-control']).toBe('no-store');
      await page.getByText(`#${failedId}`).first().waitFor({ timeout: 15_000 });
      await page.getByText('test-refuse').first().waitFor();
      // Let late requests (polling, the highlight worker) report too.
      await page.waitForTimeout(1_500);
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });
});
