import type { Job, QueueEvents } from 'bullmq';
import type { z } from 'zod';
import { HubMessageDelivery } from '../../entities/hub/hub-message-delivery.entity';
import type { WechatMpEmulator } from '../../integrations/wechat-mp/emulator/wechat-mp.emulator';
import { buildRegistry, type JobDefinition } from '../../jobs/define-job';
import { deliveryJobId } from '../../jobs/messaging/delivery';
import { wechatSendSubscribe } from '../../jobs/messaging/wechat-send-subscribe.job';
import { wechatSendTemplate } from '../../jobs/messaging/wechat-send-template.job';
import type { WorkerPool } from '../../workers/start-workers';
import { clearTables } from '../support/db';
import { openTestHub, type TestHub } from '../support/hub';
import { testQueueEvents } from '../support/queues';
import { until } from '../support/wait';

/** Template and subscribe messages through real workers, the live client and the WeChat emulator. */

const TPL = 'tpl-order-shipped';
const SUB = 'sub-lesson-reminder';
const registry = buildRegistry([wechatSendTemplate, wechatSendSubscribe]);
let hub: TestHub;
let events: QueueEvents;
let pool: WorkerPool;
let emu: WechatMpEmulator;
let oa: string;
let mini: string;
let seq = 0;
/** A well-formed openid (28 URL-safe characters), new for each use. */
const openid = (): string => `oW${String(Date.now()).padStart(16, '0')}${String((seq += 1)).padStart(10, '0')}`;
const queue = () => hub.queues.get('wechat-messages');

async function enqueue<S extends z.ZodType>(def: JobDefinition<S>, payload: z.input<S>, jobId?: string): Promise<Job> {
  const { id } = await hub.enqueue(def, payload, jobId ? { jobId } : {});
  const job = await queue().getJob(id);
  if (!job) throw new Error(`job ${id} not found`);
  return job;
}

async function run<S extends z.ZodType>(def: JobDefinition<S>, payload: z.input<S>, jobId?: string): Promise<unknown> {
  return (await enqueue(def, payload, jobId)).waitUntilFinished(events, 20_000);
}

async function failedJob(job: Job): Promise<Job> {
  await expect(job.waitUntilFinished(events, 20_000)).rejects.toThrow();
  const fresh = await queue().getJob(job.id ?? '');
  if (!fresh) throw new Error('job gone');
  return fresh;
}

const delivery = (key: string): Promise<HubMessageDelivery> => hub.db.getRepository(HubMessageDelivery).findOneByOrFail({ deliveryKey: key });
const sentTo = (user: string) => emu.ledger.filter((m) => m.openid === user);

describe('WeChat message jobs', () => {
  beforeAll(async () => {
    hub = await openTestHub(__filename, { messaging: true, registry });
    await clearTables(hub.db, [HubMessageDelivery]);
    const wechatMp = hub.integrations.emulators.wechatMp;
    if (!wechatMp) throw new Error('no WeChat emulator');
    emu = wechatMp;
    oa = hub.config.messaging.wechatMp.officialAccount?.appid ?? '';
    mini = hub.config.messaging.wechatMp.miniapp?.appid ?? '';
    emu.addTemplate(oa, TPL, { keys: ['thing1', 'time2'] });
    emu.addTemplate(mini, SUB, { keys: ['thing1', 'date2'] });
    events = await testQueueEvents('wechat-messages', hub.prefix);
    pool = hub.startWorkers(['wechat-messages']);
  });

  afterAll(async () => {
    await events.close();
    await hub.close();
  });

  describe('wechat-send-template', () => {
    it('sends once: the message in the ledger with its client_msg_id, the delivery SENT with the msgid; the key again sends nothing', async () => {
      const user = openid();
      const key = `order-shipped-1-${user}`;
      const result = await run(wechatSendTemplate, { openid: user, templateId: TPL, data: { thing1: '课程已发货', time2: '2026-03-10 12:00' }, url: 'https://example.com/o/1', deliveryKey: key });
      const [message, ...more] = sentTo(user);
      expect(more).toHaveLength(0);
      expect(message).toMatchObject({ kind: 'template', appid: oa, templateId: TPL, data: { thing1: '课程已发货', time2: '2026-03-10 12:00' }, url: 'https://example.com/o/1', clientMsgId: deliveryJobId(key) });
      expect(result).toEqual({ status: 'done', result: { deliveryKey: key, status: 'SENT', provider: 'wechat', providerMessageId: message?.msgid } });
      expect(await delivery(key)).toMatchObject({ status: 'SENT', channel: 'wechat-template', recipient: user, provider: 'wechat', providerMessageId: message?.msgid, attempts: 1, jobName: 'wechat-send-template' });

      const again = await run(wechatSendTemplate, { openid: user, templateId: TPL, data: { thing1: '再来一次' }, deliveryKey: key });
      expect(again).toMatchObject({ status: 'skipped', reason: expect.stringContaining('SENT') });
      expect(sentTo(user)).toHaveLength(1);
    });

    it('without a delivery key: keyed by its job, so the job id decides', async () => {
      const user = openid();
      const result = (await run(wechatSendTemplate, { openid: user, templateId: TPL, data: { thing1: 'no key' } }, 'tpl-nokey-1')) as { result: { deliveryKey: string } };
      expect(result.result.deliveryKey).toBe('job-wechat-send-template-tpl-nokey-1');
      expect(await delivery(result.result.deliveryKey)).toMatchObject({ status: 'SENT', jobId: 'tpl-nokey-1' });
      expect(sentTo(user)).toHaveLength(1);
    });

    it('the same delivery key as two jobs on two worker pools at once: one message', async () => {
      const second = hub.startWorkers(['wechat-messages']);
      try {
        const user = openid();
        const key = `race-${user}`;
        const calls = emu.calls('template');
        // The first send's answer is held, so the other job meets the row while it is SENDING.
        emu.inject({ kind: 'hold' }, { route: 'template' });
        const jobs = await Promise.all(['race-a', 'race-b'].map((id) => enqueue(wechatSendTemplate, { openid: user, templateId: TPL, data: { thing1: 'race' }, deliveryKey: key }, id)));
        await emu.waitForHeld(1);
        await until('the other job done', async () => (await Promise.all(jobs.map((j) => j.getState()))).includes('completed'));
        emu.releaseHeld();
        const results = await Promise.all(jobs.map((j) => j.waitUntilFinished(events, 20_000)));
        expect(results.map((r) => (r as { status: string }).status).sort()).toEqual(['done', 'skipped']);
        expect(sentTo(user)).toHaveLength(1);
        expect(emu.calls('template') - calls).toBe(1);
        expect(await delivery(key)).toMatchObject({ status: 'SENT', attempts: 1 });
      } finally {
        emu.releaseHeld();
        await second.close();
      }
    });

    it('43101 (the user turned the template off): FAILED, the job failed without a retry', async () => {
      const user = openid();
      const key = `refused-${user}`;
      emu.refuseTemplate(oa, user, TPL);
      const job = await failedJob(await enqueue(wechatSendTemplate, { openid: user, templateId: TPL, data: { thing1: 'x' }, deliveryKey: key }));
      expect(job.attemptsMade).toBe(1);
      expect(job.failedReason).toContain('USER_REFUSED');
      expect(await delivery(key)).toMatchObject({ status: 'FAILED', errorCode: 'USER_REFUSED', error: expect.stringContaining('43101'), sentTime: null });
      expect(sentTo(user)).toHaveLength(0);
    });

    it('an expired token mid-run: one refresh, the message sent once', async () => {
      await run(wechatSendTemplate, { openid: openid(), templateId: TPL, data: { thing1: 'warm' } });
      emu.expireToken(oa);
      const calls = emu.stableTokenCalls(oa);
      const user = openid();
      const key = `expired-${user}`;
      await run(wechatSendTemplate, { openid: user, templateId: TPL, data: { thing1: 'after' }, deliveryKey: key });
      expect(emu.stableTokenCalls(oa)).toBe(calls + 1);
      expect(sentTo(user)).toHaveLength(1);
      expect(await delivery(key)).toMatchObject({ status: 'SENT', providerMessageId: sentTo(user)[0]?.msgid });
    });

    it('45009 (daily quota): the queue waits with no attempt used, and sends once the quota is raised', async () => {
      const user = openid();
      const key = `quota-${user}`;
      emu.setQuota(oa, TPL, emu.template(oa, TPL).sent);
      try {
        const job = await enqueue(wechatSendTemplate, { openid: user, templateId: TPL, data: { thing1: 'quota' }, deliveryKey: key });
        await until('queue rate limited', async () => (await queue().getRateLimitTtl()) > 0, 15_000);
        await until('job back in wait', async () => (await job.getState()) === 'waiting');
        const waiting = await queue().getJob(job.id ?? '');
        expect(waiting?.attemptsMade).toBe(0);
        expect(await delivery(key)).toMatchObject({ status: 'PENDING', error: expect.stringContaining('45009') });
        expect(sentTo(user)).toHaveLength(0);

        // The pool sleeps out the pause; a fresh one after the quota is raised picks the job up.
        await pool.close();
        emu.setQuota(oa, TPL, undefined);
        await queue().removeRateLimitKey();
        pool = hub.startWorkers(['wechat-messages']);
        expect(await job.waitUntilFinished(events, 20_000)).toMatchObject({ status: 'done', result: { status: 'SENT' } });
        expect(sentTo(user)).toHaveLength(1);
        expect(await delivery(key)).toMatchObject({ status: 'SENT', attempts: 2 });
      } finally {
        emu.setQuota(oa, TPL, undefined);
      }
    });
  });

  describe('wechat-send-subscribe', () => {
    it('with a grant: sent to the mini-program page, the grant used up', async () => {
      const user = openid();
      const key = `lesson-9-${user}`;
      emu.grantSubscription(mini, user, SUB, 1);
      const result = await run(wechatSendSubscribe, { openid: user, templateId: SUB, data: { thing1: '明天上课', date2: '2026-03-11' }, page: 'pages/lesson?id=9', miniprogramState: 'trial', deliveryKey: key });
      const [message, ...more] = sentTo(user);
      expect(more).toHaveLength(0);
      expect(message).toMatchObject({ kind: 'subscribe', appid: mini, templateId: SUB, page: 'pages/lesson?id=9', state: 'trial', data: { thing1: '明天上课', date2: '2026-03-11' } });
      expect(result).toMatchObject({ status: 'done', result: { status: 'SENT', providerMessageId: message?.msgid } });
      expect(emu.subscriptionsLeft(mini, user, SUB)).toBe(0);
      expect(await delivery(key)).toMatchObject({ status: 'SENT', channel: 'wechat-subscribe', providerMessageId: message?.msgid });
    });

    it('without a grant (43101): FAILED, the job failed without a retry', async () => {
      const user = openid();
      const key = `nogrant-${user}`;
      const job = await failedJob(await enqueue(wechatSendSubscribe, { openid: user, templateId: SUB, data: { thing1: 'x' }, deliveryKey: key }));
      expect(job.attemptsMade).toBe(1);
      expect(job.failedReason).toContain('USER_REFUSED');
      expect(await delivery(key)).toMatchObject({ status: 'FAILED', errorCode: 'USER_REFUSED' });
      expect(sentTo(user)).toHaveLength(0);
    });

    it('refuses a payload that breaks the schema when enqueued', async () => {
      await expect(hub.enqueue(wechatSendSubscribe, { openid: 'short', templateId: SUB, data: {} })).rejects.toThrow(/openid|data/);
    });
  });
});
