import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import { z } from 'zod';
import { JOBS } from '../../jobs';
import { buildRegistry } from '../../jobs/define-job';
import { listen } from '../../lib/listen';
import { projectRoot } from '../../lib/paths';
import { buildApp } from '../../server/app';
import { BOARD_ADMIN, BOARD_ADMIN_ENV, greetJob, NAMED, refuseJob, writeUsersFile } from '../support/board';
import { testConfig } from '../support/env';
import { openTestHub, type TestHub } from '../support/hub';
import { track } from '../support/resources';
import { until } from '../support/wait';

/** Debian's chromium (.ci/run installs it): never a downloaded browser. */
const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
/** The language the board is run in here; board-ops.test.ts runs en-US. */
const LOCALE = 'zh-CN';
const OPERATOR = NAMED.operator;

const registry = buildRegistry([...JOBS, greetJob, refuseJob]);

jest.setTimeout(90_000);

/** Bull Board's own labels in LOCALE, so the test reads the page as a user of that language does. */
const messagesSchema = z.object({
  QUEUE: z.object({
    ACTIONS: z.object({
      ADD_JOB: z.string(),
      RETRY_ALL: z.string(),
      RETRY_ALL_FAILED: z.string(),
      PROMOTE_ALL: z.string(),
      CLEAN_ALL: z.string(),
      PAUSE: z.string(),
      SET_CONCURRENCY: z.string(),
      SET_RATE_LIMIT: z.string(),
      EMPTY: z.string(),
      OBLITERATE: z.string(),
      CONFIRM: z.object({ EMPTY_QUEUE: z.string(), OBLITERATE_QUEUE: z.string() }),
    }),
  }),
  CONFIRM: z.object({ CANCEL_BTN: z.string() }),
  SCHEDULERS: z.object({ ACTIONS: z.object({ RUN: z.string(), EDIT: z.string(), REMOVE: z.string() }) }),
  DASHBOARD: z.object({ SORTING: z.object({ TITLE: z.string() }) }),
});
const LABELS = messagesSchema.parse(
  JSON.parse(readFileSync(join(projectRoot(__dirname), 'node_modules', '@bull-board', 'ui', 'dist', 'static', 'locales', LOCALE, 'messages.json'), 'utf8')),
);
const ACTIONS = LABELS.QUEUE.ACTIONS;
/** The queue menu's entries only an admin may use. */
const ADMIN_MENU = [ACTIONS.ADD_JOB, ACTIONS.SET_CONCURRENCY, ACTIONS.SET_RATE_LIMIT, ACTIONS.EMPTY, ACTIONS.OBLITERATE];
/** A scheduler's buttons, each the admin's. */
const SCHEDULER_BUTTONS = Object.values(LABELS.SCHEDULERS.ACTIONS);
/** On `sms`, whose jobs no worker here takes: the schedulers page lists it. */
const SCHEDULER_ID = 'test-hourly';
/** A job card's buttons are icons (lucide's): its label shows only as a tooltip. */
const JOB_ICON = { retry: 'refresh-cw', promote: 'corner-up-left', duplicate: 'files', editData: 'pencil', clean: 'trash-2', reschedule: 'clock' } as const;

/**
 * Who sees which controls of the dashboard, in Chromium, with the board in Chinese: an operator
 * (retry, promote, pause) is shown none of the admin's (add, duplicate, edit data, clean, empty,
 * obliterate…), which the server refuses anyway; the admin is shown all, and emptying or
 * obliterating a queue asks first, even when the admin switched Bull Board's confirmations off.
 */
describe('the dashboard\'s controls per role, in a real browser', () => {
  let hub: TestHub;
  let app: FastifyInstance;
  let origin: string;
  let browser: Browser;
  let users: { path: string; remove(): void };

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium), as .ci/run does`);
    hub = await openTestHub(__filename, { registry });
    users = await writeUsersFile([OPERATOR]);
    const config = testConfig({
      HUB_QUEUE_PREFIX: hub.prefix,
      HUB_BOARD_LOCALE: LOCALE,
      ...BOARD_ADMIN_ENV,
      HUB_USERS_FILE: users.path,
    });
    app = await buildApp({ config, log: hub.log, db: hub.db, redis: hub.redis, queues: hub.queues, registry });
    origin = `http://127.0.0.1:${await listen(app, 0)}`;
    const failed = await hub.enqueue(refuseJob, { orderNo: 'R-1' });
    const pool = hub.startWorkers(['messages']);
    try {
      await until('the job failed', async () => (await hub.queues.get('messages').getJobState(failed.id)) === 'failed', 15_000, 100);
    } finally {
      await pool.close();
    }
    await hub.enqueue(greetJob, { memberId: '9' }, { delay: 3_600_000 });
    await hub.queues.get('sms').upsertJobScheduler(SCHEDULER_ID, { every: 3_600_000 }, { name: 'test-text', data: {} });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
    track({ kind: 'closable', value: { isOpen: () => browser.isConnected() }, label: 'chromium' });
  });
  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await hub?.close();
    users?.remove();
  });

  /** A page logged in as `account`, with `settings` as Bull Board's stored settings in this browser. */
  async function pageAs(account: { username: string; password: string }, settings?: Record<string, unknown>): Promise<Page> {
    const context = await browser.newContext({ httpCredentials: account, viewport: { width: 1280, height: 900 } });
    if (settings) {
      // Runs before the page's scripts (a string: the test is compiled without DOM types).
      await context.addInitScript(`window.localStorage.setItem('board-settings', ${JSON.stringify(JSON.stringify({ state: settings, version: 2 }))});`);
    }
    return context.newPage();
  }

  /** Console errors, uncaught exceptions and CSP violations the page reports (the role script injects a stylesheet). */
  async function watch(page: Page): Promise<string[]> {
    const problems: string[] = [];
    page.on('console', (message) => void (message.type() === 'error' && problems.push(`console: ${message.text()}`)));
    page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
    await page.exposeBinding('reportCspViolation', (_source, violation: string) => problems.push(`csp: ${violation}`));
    await page.addInitScript(`document.addEventListener('securitypolicyviolation', (e) => void window.reportCspViolation(e.violatedDirective + ' ' + (e.blockedURI || 'inline')));`);
    return problems;
  }

  /** The visible job card buttons whose icon is lucide's `icon`. */
  const jobButton = (page: Page, icon: string): Locator => page.locator(`ul[class*="jobActions"] button:has(svg.lucide-${icon})`).locator('visible=true');

  /** The queue's menu (⋮ beside its name), opened. */
  async function openQueueMenu(page: Page): Promise<void> {
    await page.locator('button[aria-haspopup="menu"]:has(svg.lucide-ellipsis-vertical)').first().click();
    await page.getByRole('menu').waitFor();
  }

  /** The menu's entries a user can see, by label. */
  async function menuEntries(page: Page): Promise<string[]> {
    return (await page.getByRole('menuitem').allInnerTexts()).map((text) => text.trim());
  }

  it('operator: retry, promote and pause, and none of the admin\'s controls, which the server refuses anyway', async () => {
    const page = await pageAs(OPERATOR);
    const problems = await watch(page);
    try {
      await page.goto(`${origin}/admin/queues/queue/messages?status=failed`);
      await page.getByText('test-refuse').first().waitFor({ timeout: 15_000 });
      await jobButton(page, JOB_ICON.retry).first().waitFor();
      for (const icon of [JOB_ICON.duplicate, JOB_ICON.editData, JOB_ICON.clean]) expect([icon, await jobButton(page, icon).count()]).toEqual([icon, 0]);
      await page.getByRole('button', { name: ACTIONS.RETRY_ALL, exact: true }).waitFor();
      expect(await page.getByRole('button', { name: ACTIONS.CLEAN_ALL, exact: true }).count()).toBe(0);

      await openQueueMenu(page);
      const entries = await menuEntries(page);
      expect(entries).toEqual(expect.arrayContaining([ACTIONS.RETRY_ALL_FAILED.replace('{{count}}', '1'), ACTIONS.PAUSE]));
      for (const label of ADMIN_MENU) expect(entries).not.toContain(label);
      await page.keyboard.press('Escape');

      await page.goto(`${origin}/admin/queues/queue/messages?status=delayed`);
      await page.getByText('test-greet').first().waitFor({ timeout: 15_000 });
      await jobButton(page, JOB_ICON.promote).first().waitFor();
      for (const icon of [JOB_ICON.reschedule, JOB_ICON.duplicate, JOB_ICON.editData, JOB_ICON.clean]) expect([icon, await jobButton(page, icon).count()]).toEqual([icon, 0]);
      await page.getByRole('button', { name: ACTIONS.PROMOTE_ALL, exact: true }).waitFor();

      await page.goto(`${origin}/admin/queues/job-schedulers`);
      await page.getByText(SCHEDULER_ID).first().waitFor({ timeout: 15_000 });
      for (const name of SCHEDULER_BUTTONS) expect([name, await page.getByRole('button', { name, exact: true }).count()]).toEqual([name, 0]);

      // The overview's menu sorts with the icon of "change priority": it stays.
      await page.goto(`${origin}/admin/queues`);
      await openQueueMenu(page);
      await page.getByRole('menuitem', { name: LABELS.DASHBOARD.SORTING.TITLE }).waitFor();
      await page.keyboard.press('Escape');
      expect(problems).toEqual([]);

      const status = await page.evaluate(async (url) => (await fetch(url, { method: 'PUT' })).status, `${origin}/admin/queues/api/queues/messages/empty`);
      expect(status).toBe(403);
    } finally {
      await page.context().close();
    }
  });

  it('admin: every control, and emptying or obliterating asks first though the stored settings say not to', async () => {
    const page = await pageAs(BOARD_ADMIN, { confirmQueueActions: false, confirmJobActions: false });
    try {
      await page.goto(`${origin}/admin/queues/queue/messages?status=failed`);
      await page.getByText('test-refuse').first().waitFor({ timeout: 15_000 });
      for (const icon of [JOB_ICON.retry, JOB_ICON.duplicate, JOB_ICON.editData, JOB_ICON.clean]) await jobButton(page, icon).first().waitFor();
      await page.getByRole('button', { name: ACTIONS.CLEAN_ALL, exact: true }).waitFor();

      await page.goto(`${origin}/admin/queues/job-schedulers`);
      await page.getByText(SCHEDULER_ID).first().waitFor({ timeout: 15_000 });
      for (const name of SCHEDULER_BUTTONS) await page.getByRole('button', { name, exact: true }).waitFor();

      await page.goto(`${origin}/admin/queues/queue/messages?status=failed`);
      await page.getByText('test-refuse').first().waitFor({ timeout: 15_000 });
      await openQueueMenu(page);
      expect(await menuEntries(page)).toEqual(expect.arrayContaining([...ADMIN_MENU, ACTIONS.PAUSE]));
      for (const [entry, question] of [
        [ACTIONS.EMPTY, ACTIONS.CONFIRM.EMPTY_QUEUE],
        [ACTIONS.OBLITERATE, ACTIONS.CONFIRM.OBLITERATE_QUEUE],
      ] as const) {
        if (!(await page.getByRole('menu').isVisible())) await openQueueMenu(page);
        await page.getByRole('menuitem', { name: entry, exact: true }).click();
        const dialog = page.getByRole('alertdialog').or(page.getByRole('dialog'));
        await dialog.getByText(question.split('\n')[0] ?? question).waitFor();
        await dialog.getByRole('button', { name: LABELS.CONFIRM.CANCEL_BTN, exact: true }).click();
        await dialog.waitFor({ state: 'hidden' });
      }
      // Cancelled: both jobs are still there.
      const counts = await hub.queues.get('messages').getJobCounts('failed', 'delayed');
      expect(counts).toEqual({ failed: 1, delayed: 1 });
    } finally {
      await page.context().close();
    }
  });
});
