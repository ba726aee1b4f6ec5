import type { QueueEvents } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { JOBS } from '../../jobs';
import { buildRegistry, defineJob, done } from '../../jobs/define-job';
import { emailSend } from '../../jobs/messaging/email-send.job';
import { familySync } from '../../jobs/school/family-sync.job';
import { smsSend } from '../../jobs/messaging/sms-send.job';
import { wechatSendTemplate } from '../../jobs/messaging/wechat-send-template.job';
import { PermanentError } from '../../lib/errors';
import { buildApp } from '../../server/app';
import type { QueueName } from '../../lib/queue-names';
import { testConfig } from '../support/env';
import { openTestHub, type TestHub } from '../support/hub';
import { testQueueEvents } from '../support/queues';
import { basicAuth, BOARD_ADMIN, BOARD_VIEWER } from '../support/board';

const ADMIN = BOARD_ADMIN;
const VIEWER = BOARD_VIEWER;
const basic = basicAuth;

const OPENID = 'oDemo202612051000xxxxxxxxxxx';
const RESULT_OPENID = 'oRslt7Hk2mQ9pLx4Vb8Nc1Zd3We5';
/** Everything seeded below that must never reach the dashboard, in full. */
const PHONES = ['13800138000', '13912345678', '13700137000', '13600136000', '13500135000', '13400134000', '13300133000'];
const CODES = ['246810', '123456789012', '987654321098', '135790', '864209', '975318'];
const EMAILS = ['teacher@example.com', 'office@example.com', 'member@example.com', 'failed.user@example.com'];
const ID_NUMBER = '11010519491231002X';

const leakyResult = defineJob({
  name: 'test-leaky-result',
  queue: 'messages',
  description: 'returns personal data',
  payload: z.object({ memberId: z.string() }),
  handle: async () =>
    done({ phone: '13500135000', openid: RESULT_OPENID, email: 'member@example.com', verifyCode: '135790', idCard: ID_NUMBER, note: 'sent to 13500135000' }),
});
const leakyFailure = defineJob({
  name: 'test-leaky-failure',
  queue: 'messages',
  description: 'fails naming personal data',
  payload: z.object({ memberId: z.string() }),
  options: { attempts: 1 },
  handle: async () => {
    throw new PermanentError('SMS_REFUSED', 'sms to 13400134000 (failed.user@example.com) refused: 验证码 864209');
  },
});
const registry = buildRegistry([...JOBS, leakyResult, leakyFailure]);

const QUEUES: QueueName[] = ['sms', 'sync', 'email', 'wechat-messages', 'messages'];

interface BoardJob {
  id: string;
  stacktrace: string[];
  failedReason?: string;
  data: unknown;
  returnValue: unknown;
}

describe('the dashboard masks personal data and secrets', () => {
  let hub: TestHub;
  let app: FastifyInstance;
  let events: QueueEvents;
  const ids: Record<'verify' | 'failed' | 'result', string> = { verify: '', failed: '', result: '' };

  beforeAll(async () => {
    hub = await openTestHub(__filename, { registry });
    const config = testConfig({
      HUB_QUEUE_PREFIX: hub.prefix,
      BOARD_USERNAME: ADMIN.username,
      BOARD_PASSWORD: ADMIN.password,
      BOARD_VIEWER_USERNAME: VIEWER.username,
      BOARD_VIEWER_PASSWORD: VIEWER.password,
    });
    app = await buildApp({ config, log: hub.log, db: hub.db, redis: hub.redis, queues: hub.queues, registry });
    events = await testQueueEvents('messages', hub.prefix);

    // Business jobs as producers enqueue them; no worker runs their queues, so they stay waiting.
    ids.verify = (await hub.enqueue(smsSend, { phone: '13800138000', templateKey: 'verify-code', params: { code: '246810', minutes: 5 } })).id;
    await hub.enqueue(smsSend, { phone: '+8613912345678', templateKey: 'group-buy-success', params: { event: '周末亲子手工课', code: '123456789012' } });
    await hub.enqueue(smsSend, { phone: '13300133000', templateKey: 'notify', params: { title: '拼团成功', content: '您参加的「手工课」已拼团成功，核销码 987654321098' } });
    await hub.enqueue(familySync, { buildType: 'MOBILE', mobile: '13700137000' });
    await hub.enqueue(emailSend, { to: ['teacher@example.com'], cc: ['office@example.com'], subject: '课程安排', text: '请回电 13600136000，验证码 975318' });
    await hub.enqueue(wechatSendTemplate, { openid: OPENID, templateId: 'ORDER_PAID', data: { thing1: '周末亲子手工课' } });
    const verifyJob = await hub.queues.get('sms').getJob(ids.verify);
    await verifyJob?.log(`claimed for 13800138000, 验证码 246810, id ${ID_NUMBER}`);

    // A result and a failure with a stack trace, from the real runner.
    ids.result = (await hub.enqueue(leakyResult, { memberId: '1' })).id;
    ids.failed = (await hub.enqueue(leakyFailure, { memberId: '2' })).id;
    const pool = hub.startWorkers(['messages']);
    try {
      const messages = hub.queues.get('messages');
      await (await messages.getJob(ids.result))?.waitUntilFinished(events, 10_000);
      await expect((await messages.getJob(ids.failed))?.waitUntilFinished(events, 10_000)).rejects.toThrow(/SMS_REFUSED/);
    } finally {
      await pool.close();
    }
  });
  afterAll(async () => {
    await events.close();
    await app.close();
    await hub.close();
  });

  const get = async (account: typeof ADMIN, path: string): Promise<string> => {
    const res = await app.inject({ method: 'GET', url: `/admin/queues/api${path}`, headers: { host: 'hub.example:3000', authorization: basic(account) } });
    expect({ path, status: res.statusCode }).toEqual({ path, status: 200 });
    return res.body;
  };

  /** What the board's UI reads: each queue's job list, each job's details and logs. */
  async function everythingShown(account: typeof ADMIN): Promise<{ text: string; jobs: Map<string, BoardJob> }> {
    const texts: string[] = [];
    const jobs = new Map<string, BoardJob>();
    for (const queue of QUEUES) {
      const list = await get(account, `/queues?activeQueue=${queue}&status=latest&page=1&jobsPerPage=50`);
      texts.push(list);
      const shown = (JSON.parse(list) as { queues: { name: string; jobs: BoardJob[] }[] }).queues.find((q) => q.name === queue);
      expect(shown?.jobs.length).toBeGreaterThan(0);
      for (const job of shown?.jobs ?? []) {
        const detail = await get(account, `/queues/${queue}/${encodeURIComponent(job.id)}`);
        texts.push(detail, await get(account, `/queues/${queue}/${encodeURIComponent(job.id)}/logs`));
        jobs.set(`${queue}/${job.id}`, (JSON.parse(detail) as { job: BoardJob }).job);
      }
    }
    return { text: texts.join('\n'), jobs };
  }

  function expectNothingInFull(text: string): void {
    for (const value of [...PHONES, ...CODES, ...EMAILS, OPENID, RESULT_OPENID, ID_NUMBER]) expect({ value, shown: text.includes(value) }).toEqual({ value, shown: false });
  }

  it('shows the viewer job data, results, failures and logs masked, and no stack trace', async () => {
    const { text, jobs } = await everythingShown(VIEWER);
    expectNothingInFull(text);
    // Masked as the logs are: phone numbers and addresses in part, codes and openids whole.
    expect(text).toContain('138****8000');
    expect(text).toContain('t***@example.com');
    expect(jobs.get(`sms/${ids.verify}`)?.data).toMatchObject({ phone: '138****8000', params: { code: '[REDACTED]', minutes: 5 } });
    expect(jobs.get(`messages/${ids.result}`)?.returnValue).toMatchObject({ result: { phone: '135****5000', openid: '[REDACTED]', verifyCode: '[REDACTED]' } });
    const failed = jobs.get(`messages/${ids.failed}`);
    expect(failed?.failedReason).toContain('134****4000');
    expect(failed?.stacktrace).toEqual([]);
  });

  it('shows the admin the same masks, and the stack trace, masked too', async () => {
    const { text, jobs } = await everythingShown(ADMIN);
    expectNothingInFull(text);
    const stack = jobs.get(`messages/${ids.failed}`)?.stacktrace ?? [];
    expect(stack.length).toBeGreaterThan(0);
    expect(stack.join('\n')).toMatch(/SMS_REFUSED: sms to 134\*\*\*\*4000 \(f\*\*\*@example\.com\) refused: 验证码 \[REDACTED\]\n\s+at /);
  });

  it('refuses a job data write holding a masked value, which would overwrite the real one', async () => {
    const write = (data: unknown) =>
      app.inject({
        method: 'PATCH',
        url: `/admin/queues/api/queues/sms/${ids.verify}/update-data`,
        headers: { host: 'hub.example:3000', origin: 'http://hub.example:3000', authorization: basic(ADMIN) },
        payload: { jobData: data },
      });
    const refused = await write({ phone: '138****8000', templateKey: 'verify-code', params: { code: '[REDACTED]', minutes: 5 } });
    expect(refused.statusCode).toBe(400);
    expect(refused.json()).toMatchObject({ error: { key: 'ERRORS.INVALID_REQUEST_BODY' }, message: expect.stringMatching(/masked/) });
    expect((await hub.queues.get('sms').getJob(ids.verify))?.data).toMatchObject({ phone: '13800138000', params: { code: '246810' } });

    const accepted = await write({ phone: '13800138000', templateKey: 'verify-code', params: { code: '246811', minutes: 5 } });
    expect(accepted.statusCode).toBe(200);
    expect((await hub.queues.get('sms').getJob(ids.verify))?.data).toMatchObject({ params: { code: '246811' } });
  });
});
