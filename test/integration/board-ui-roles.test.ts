import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { z } from 'zod';
import { JOBS } from '../../jobs';
import { buildRegistry, defineJob, skipped } from '../../jobs/define-job';
import { SCHEDULES } from '../../jobs/schedules';
import { buildApp } from '../../server/app';
import { startClock } from '../../workers/clock';
import { basicAuth, BOARD_ADMIN, BOARD_ADMIN_ENV, BOARD_VIEWER, BOARD_VIEWER_ENV, greetJob, NAMED, writeUsersFile } from '../support/board';
import { testConfig } from '../support/env';
import { openTestHub, type TestHub } from '../support/hub';
import { until } from '../support/wait';

/** A job that finds nothing to do, with a reason holding a phone number the board must mask. */
const skipJob = defineJob({
  name: 'test-skip',
  queue: 'messages',
  description: 'always skips',
  payload: z.object({ batch: z.string() }),
  handle: async ({ batch }) => skipped(`batch ${batch} has no members left (last one 13812345678 unsubscribed)`),
});

const registry = buildRegistry([...JOBS, greetJob, skipJob]);
const WEEK_S = 7 * 24 * 3_600;

type Account = { username: string; password: string };
interface BoardQueue {
  name: string;
  readOnlyMode: boolean;
  allowRetries: boolean;
  allowCompletedRetries: boolean;
  jobs: { id: string; name: string; returnValue: unknown }[];
}

/** What each role is shown on the dashboard, and what it shows of the jobs. */
describe('the dashboard page, per role', () => {
  let hub: TestHub;
  let app: FastifyInstance;
  let users: { path: string; remove(): void };

  beforeAll(async () => {
    hub = await openTestHub(__filename, { registry });
    users = await writeUsersFile([NAMED.operator]);
    const config = testConfig({
      HUB_QUEUE_PREFIX: hub.prefix,
      ...BOARD_ADMIN_ENV,
      ...BOARD_VIEWER_ENV,
      HUB_USERS_FILE: users.path,
    });
    app = await buildApp({ config, log: hub.log, db: hub.db, redis: hub.redis, queues: hub.queues, registry });
  });
  afterAll(async () => {
    await app.close();
    await hub.close();
    users.remove();
  });

  const get = (account: Account, url: string): Promise<LightMyRequestResponse> => app.inject({ method: 'GET', url, headers: { authorization: basicAuth(account) } });
  const queuesAs = async (account: Account, query = ''): Promise<BoardQueue[]> => {
    const res = await get(account, `/admin/queues/api/queues${query}`);
    expect(res.statusCode).toBe(200);
    return (res.json() as { queues: BoardQueue[] }).queues;
  };

  it('loads nothing from another host: every src and href is the hub\'s, and each answers', async () => {
    const page = await get(BOARD_ADMIN, '/admin/queues');
    expect(page.statusCode).toBe(200);
    expect(page.body).not.toMatch(/googleapis|gstatic/);
    const base = /<base href="([^"]+)"/.exec(page.body)?.[1];
    expect(base).toBe('/admin/queues/');
    const refs = [...page.body.matchAll(/\b(?:src|href)="([^"]*)"/g)].map((m) => m[1] ?? '');
    // The base, two icons, the stylesheet and four scripts.
    expect(refs.length).toBeGreaterThanOrEqual(8);
    for (const ref of refs) {
      expect(ref).not.toMatch(/^(?:[a-z][a-z0-9+.-]*:)?\/\//i);
      const url = ref.startsWith('/') ? ref : `${base ?? ''}${ref}`;
      const res = await get(BOARD_ADMIN, url);
      expect({ ref, status: res.statusCode }).toEqual({ ref, status: 200 });
      if (ref.endsWith('.css')) expect(res.body).not.toMatch(/@import|url\(\s*["']?(?:https?:)?\/\//i);
    }
  });

  it('links its docs and the ops reads to the hub\'s own, open to the admin\'s login, and shows times in Beijing, with the offset', async () => {
    const html = (await get(BOARD_ADMIN, '/admin/queues')).body;
    const config = JSON.parse(/<script id="__UI_CONFIG__" type="application\/json">(.*?)<\/script>/s.exec(html)?.[1] ?? '{}') as {
      hideDocsLink?: boolean;
      miscLinks?: { text: string; url: string }[];
      dateFormats?: Record<'short' | 'common' | 'full', Intl.DateTimeFormatOptions>;
    };
    expect(config.hideDocsLink).toBe(true);
    expect(config.miscLinks?.map((l) => l.url)).toEqual(['/api/docs', '/api/v1/alerts', '/api/v1/refunds', '/api/v1/schedule', '/api/v1/audit']);
    expect((await app.inject({ method: 'GET', url: '/api/docs' })).statusCode).toBeLessThan(400);
    // Each read opens with the board's own admin login, and is refused to the viewer.
    for (const { url } of config.miscLinks?.slice(1) ?? []) {
      expect({ url, status: (await get(BOARD_ADMIN, url)).statusCode }).toEqual({ url, status: 200 });
      expect({ url, status: (await get(BOARD_VIEWER, url)).statusCode }).toEqual({ url, status: 403 });
    }
    // 16:05 UTC on New Year's Eve is 00:05 on 1 January in Beijing: every format shows Beijing's day.
    const instant = Date.UTC(2025, 11, 31, 16, 5, 9);
    for (const kind of ['short', 'common', 'full'] as const) {
      const shown = new Intl.DateTimeFormat('en-US', config.dateFormats?.[kind]).format(instant);
      expect(shown).toMatch(/01\/01/);
      expect(shown).toMatch(/00:05:09/);
      expect(shown).toMatch(/GMT\+8/);
    }
    expect(new Intl.DateTimeFormat('en-US', config.dateFormats?.full).format(instant)).toMatch(/2026/);
  });

  it('shows the viewer every queue read-only, the operator no re-run of completed jobs, the admin everything', async () => {
    const viewer = await queuesAs(BOARD_VIEWER);
    expect(viewer.length).toBeGreaterThan(0);
    for (const q of viewer) expect(q).toMatchObject({ readOnlyMode: true, allowRetries: false, allowCompletedRetries: false });

    const operator = await queuesAs(NAMED.operator);
    for (const q of operator) expect(q).toMatchObject({ readOnlyMode: false, allowRetries: true, allowCompletedRetries: false });

    const admin = await queuesAs(BOARD_ADMIN);
    expect(admin.map((q) => q.name).sort()).toEqual(viewer.map((q) => q.name).sort());
    for (const q of admin) expect(q).toMatchObject({ readOnlyMode: false, allowRetries: true, allowCompletedRetries: true });
    // The flags are per answer: the viewer's did not change what the adapters hold.
    for (const q of await queuesAs(BOARD_VIEWER)) expect(q.readOnlyMode).toBe(true);
  });

  it('names a skipped job as skipped, with its reason masked, and leaves a done job\'s name alone', async () => {
    const queue = hub.queues.get('messages');
    await queue.obliterate({ force: true });
    const skip = await hub.enqueue(skipJob, { batch: 'B7' });
    const greet = await hub.enqueue(greetJob, { memberId: '42' });
    const pool = hub.startWorkers(['messages']);
    try {
      await until('both jobs completed', async () => (await queue.getJobState(skip.id)) === 'completed' && (await queue.getJobState(greet.id)) === 'completed');
    } finally {
      await pool.close();
    }
    const [messages] = (await queuesAs(BOARD_VIEWER, '?activeQueue=messages&status=completed&page=1&jobsPerPage=10')).filter((q) => q.name === 'messages');
    const shown = new Map((messages?.jobs ?? []).map((j) => [j.id, j]));
    expect(shown.get(skip.id)?.name).toBe('⏭ test-skip — skipped: batch B7 has no members left (last one 138****5678 unsubscribed)');
    expect(shown.get(skip.id)?.returnValue).toEqual({ status: 'skipped', reason: 'batch B7 has no members left (last one 138****5678 unsubscribed)' });
    expect(shown.get(greet.id)?.name).toBe('test-greet');
    expect(shown.get(greet.id)?.returnValue).toEqual({ status: 'done', result: { greeted: '42' } });
  });

  it('keeps a week the completed runs of the nightly and hourly batches the clock enqueues, an hour the rest', async () => {
    const nightly = ['wechat-pay-reconcile-bill', 'apple-reconcile', 'school-sync', 'family-sync', 'hub-retention', 'sms-code-cleanup'];
    const schedules = SCHEDULES.filter((s) => nightly.includes(s.job.name) || s.job.name === 'notify-dispatch');
    expect(schedules).toHaveLength(nightly.length + 1);
    // Started now, the clock catches up each schedule's latest slot at once: the path every slot takes.
    const clock = startClock({ enqueue: hub.enqueue, redis: hub.redis, keys: hub.queues.keys, log: hub.log, now: () => new Date() }, schedules);
    try {
      await clock.settled();
    } finally {
      await clock.stop();
    }
    for (const { job } of schedules) {
      const [enqueued] = (await hub.queues.get(job.queue).getJobs(['waiting', 'prioritized', 'delayed'])).filter((j) => j.name === job.name);
      const kept = enqueued?.opts.removeOnComplete;
      const age = typeof kept === 'object' && 'age' in kept ? kept.age : undefined;
      expect({ job: job.name, id: enqueued?.id?.startsWith(`${job.name}@`), kept: nightly.includes(job.name) ? (age ?? 0) >= WEEK_S : age === 3_600 }).toEqual({ job: job.name, id: true, kept: true });
    }
  });
});
