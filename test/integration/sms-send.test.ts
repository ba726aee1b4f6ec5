import type { Job, QueueEvents } from 'bullmq';
import { MessageRecordStatus, Sms } from '../../entities/customer-service/sms.entity';
import { HubMessageDelivery } from '../../entities/hub/hub-message-delivery.entity';
import { HubSmsTemplate } from '../../entities/hub/hub-sms-template.entity';
import type { AliyunSmsEmulator } from '../../integrations/sms/emulator/aliyun-sms.emulator';
import type { SmsClient } from '../../integrations/sms/sms.client';
import type { TencentSmsEmulator } from '../../integrations/sms/emulator/tencent-sms.emulator';
import { buildRegistry } from '../../jobs/define-job';
import { smsCircuitKey } from '../../jobs/messaging/sms-chain';
import { hubRedisKeys } from '../../lib/redis-keys';
import { smsSend, smsIdFor } from '../../jobs/messaging/sms-send.job';
import { createCircuitBreaker } from '../../lib/circuit-breaker';
import { clearTables } from '../support/db';
import { approveSmsTemplate, messagingEmulators } from '../support/messaging';
import { openTestHub, type TestHub } from '../support/hub';
import { testQueueEvents } from '../support/queues';
import { until } from '../support/wait';

const TEMPLATE = {
  templateKey: 'verify-code',
  content: '您的验证码是${code}，${minutes}分钟内有效。',
  aliyunTemplateCode: 'SMS_100001',
  aliyunSignName: '测试签名',
  aliyunParams: { code: 'code', time: 'minutes' },
  tencentTemplateId: '200001',
  tencentSignName: '测试签名',
  tencentParams: ['code', 'minutes'],
  enabled: 1,
};

describe('sms-send: Aliyun → Tencent, once per delivery key', () => {
  let hub: TestHub;
  let events: QueueEvents;
  let aliyun: AliyunSmsEmulator;
  let tencent: TencentSmsEmulator;
  let seq = 0;

  beforeAll(async () => {
    hub = await openTestHub(__filename, { messaging: true, registry: buildRegistry([smsSend]) });
    events = await testQueueEvents('sms', hub.prefix);
    ({ aliyun, tencent } = messagingEmulators(hub));
    await clearTables(hub.db, [Sms, HubMessageDelivery, HubSmsTemplate]);
    await approveSmsTemplate(hub, TEMPLATE);
    hub.startWorkers(['sms']);
  });
  afterAll(async () => {
    await events.close();
    await clearTables(hub.db, [Sms, HubMessageDelivery, HubSmsTemplate]);
    await hub.close();
  });
  beforeEach(async () => {
    await clearTables(hub.db, [Sms, HubMessageDelivery]);
    await hub.redis.del(smsCircuitKey(hubRedisKeys(hub.config.redis), 'aliyun'), smsCircuitKey(hubRedisKeys(hub.config.redis), 'tencent'));
    jest.restoreAllMocks();
  });

  /** A number no other test has used: the emulators allow one message per number per minute. */
  const phone = (): string => `1380000${String(++seq).padStart(4, '0')}`;
  const client = (provider: 'aliyun' | 'tencent'): SmsClient => {
    const c = hub.integrations.sms.byName(provider);
    if (!c) throw new Error(`no ${provider} client`);
    return c;
  };
  const ledger = (to: string) => ({ aliyun: aliyun.messages.filter((m) => m.phone === to), tencent: tencent.messages.filter((m) => m.phone === to) });
  const delivery = (key: string) => hub.db.getRepository(HubMessageDelivery).findOneByOrFail({ deliveryKey: key });
  const smsRow = (key: string) => hub.db.getRepository(Sms).findOneByOrFail({ smsId: smsIdFor(key) });

  async function enqueue(to: string, key?: string, params: Record<string, string | number> = { code: '4821', minutes: 5 }): Promise<Job> {
    const { id } = await hub.enqueue(smsSend, { phone: to, templateKey: TEMPLATE.templateKey, params, ...(key ? { deliveryKey: key } : {}) });
    const job = await hub.queues.get('sms').getJob(id);
    if (!job) throw new Error(`job ${id} vanished`);
    return job;
  }
  const finished = (job: Job): Promise<unknown> => job.waitUntilFinished(events, 20_000);
  const failed = async (job: Job): Promise<string> => {
    await expect(finished(job)).rejects.toThrow();
    return (await hub.queues.get('sms').getJob(job.id ?? ''))?.failedReason ?? '';
  };
  const reload = async (job: Job): Promise<Job> => {
    const again = await hub.queues.get('sms').getJob(job.id ?? '');
    if (!again) throw new Error('job gone');
    return again;
  };

  it('sends through Aliyun: one message, sms row sent with the rendered text, delivery SENT with the BizId', async () => {
    const to = phone();
    const result = await finished(await enqueue(`+86${to}`, 'verify-1'));
    const { aliyun: sent, tencent: none } = ledger(to);
    expect(sent).toHaveLength(1);
    expect(none).toHaveLength(0);
    const d = await delivery('verify-1');
    expect(result).toEqual({ status: 'done', result: { deliveryKey: 'verify-1', status: 'SENT', provider: 'aliyun', providerMessageId: sent[0]?.messageId } });
    expect(d).toMatchObject({ status: 'SENT', channel: 'sms', recipient: to, provider: 'aliyun', providerMessageId: sent[0]?.messageId, recordId: smsIdFor('verify-1') });
    expect(sent[0]).toMatchObject({ template: 'SMS_100001', sign: '测试签名', params: ['4821', '5'], outId: d.id });
    const row = await smsRow('verify-1');
    expect(row).toMatchObject({ phone: to, templateId: 'verify-code', content: '您的验证码是4821，5分钟内有效。', status: MessageRecordStatus.SENT, errorMsg: null });
    expect(JSON.parse(row.params ?? '')).toEqual({ code: '4821', minutes: 5 });
    expect(row.sendTime).not.toBeNull();
    expect(d.payload).toMatchObject({ phone: to, deliveryKey: 'verify-1' });
  });

  it('fails over to Tencent when Aliyun answers 503: one message in all, in Tencent’s parameter order', async () => {
    const to = phone();
    aliyun.inject({ kind: 'http', status: 503 });
    await finished(await enqueue(to, 'failover-1'));
    const { aliyun: none, tencent: sent } = ledger(to);
    expect(none).toHaveLength(0);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ template: '200001', params: ['4821', '5'] });
    expect(await delivery('failover-1')).toMatchObject({ status: 'SENT', provider: 'tencent', providerMessageId: sent[0]?.messageId });
    expect(await smsRow('failover-1')).toMatchObject({ status: MessageRecordStatus.SENT });
  });

  it('stops at a permanent Aliyun code: no Tencent call, sms failed with the code, delivery FAILED, no retry', async () => {
    const to = phone();
    const tencentSend = jest.spyOn(client('tencent'), 'send');
    aliyun.inject({ kind: 'code', code: 'isv.MOBILE_NUMBER_ILLEGAL', message: '非法手机号' });
    const job = await enqueue(to, 'illegal-1');
    expect(await failed(job)).toContain('isv.MOBILE_NUMBER_ILLEGAL');
    expect((await reload(job)).attemptsMade).toBe(1);
    expect(tencentSend).not.toHaveBeenCalled();
    expect(ledger(to)).toEqual({ aliyun: [], tencent: [] });
    expect(await delivery('illegal-1')).toMatchObject({ status: 'FAILED', errorCode: 'isv.MOBILE_NUMBER_ILLEGAL' });
    const row = await smsRow('illegal-1');
    expect(row.status).toBe(MessageRecordStatus.FAILED);
    expect(row.errorMsg).toContain('isv.MOBILE_NUMBER_ILLEGAL');
  });

  it('opens Aliyun’s circuit after five failures: the next sends go straight to Tencent', async () => {
    const aliyunSend = jest.spyOn(client('aliyun'), 'send');
    aliyun.inject({ kind: 'http', status: 503 }, { times: 5 });
    const phones = Array.from({ length: 8 }, phone);
    for (const [i, to] of phones.slice(0, 5).entries()) await finished(await enqueue(to, `breaker-${i}`));
    expect(aliyunSend).toHaveBeenCalledTimes(5);
    for (const [i, to] of phones.slice(5).entries()) await finished(await enqueue(to, `breaker-open-${i}`));
    expect(aliyunSend).toHaveBeenCalledTimes(5);
    for (const to of phones) expect(ledger(to)).toMatchObject({ aliyun: [], tencent: [expect.objectContaining({ phone: to })] });
    expect(await hub.redis.hget(smsCircuitKey(hubRedisKeys(hub.config.redis), 'aliyun'), 'openUntil')).not.toBeNull();

    // Circuit closed again (as after its open period and a good probe): Aliyun is first once more.
    await hub.redis.del(smsCircuitKey(hubRedisKeys(hub.config.redis), 'aliyun'));
    const later = phone();
    await finished(await enqueue(later, 'breaker-closed'));
    expect(aliyunSend).toHaveBeenCalledTimes(6);
    expect(ledger(later).aliyun).toHaveLength(1);
  });

  it('circuit breaker: opens after consecutive failures in the window, lets one probe through, closes on its success', async () => {
    let at = 1_000_000;
    const make = () => createCircuitBreaker({ redis: hub.redis, key: `${hub.config.redis.queuePrefix}:circuit:test`, failureThreshold: 3, windowMs: 10_000, openMs: 5_000, now: () => new Date(at) });
    const [a, b] = [make(), make()]; // two workers, one circuit
    await a.recordFailure();
    await b.recordFailure();
    at += 11_000; // outside the window: the run starts again
    await a.recordFailure();
    await b.recordFailure();
    expect(await a.isOpen()).toBe(false);
    await b.recordSuccess(); // a success breaks the run
    for (let i = 0; i < 3; i++) await a.recordFailure();
    expect([await a.isOpen(), await b.isOpen()]).toEqual([true, true]);
    at += 5_000; // half-open: exactly one probe
    expect([await a.isOpen(), await b.isOpen()]).toEqual([false, true]);
    await a.recordFailure(); // the probe failed: open again
    expect(await b.isOpen()).toBe(true);
    at += 5_000;
    expect(await b.isOpen()).toBe(false);
    await b.recordSuccess();
    expect([await a.isOpen(), await b.isOpen()]).toEqual([false, false]);
  });

  it('sends once per delivery key: the same key as two jobs, two worker pools on the queue', async () => {
    const second = hub.startWorkers(['sms']);
    try {
      const phones = Array.from({ length: 5 }, phone);
      const jobs = await Promise.all(phones.flatMap((to, i) => [enqueue(to, `dup-${i}`), enqueue(to, `dup-${i}`)]));
      const results = (await Promise.all(jobs.map(finished))) as { status: string }[];
      expect(results.filter((r) => r.status === 'done')).toHaveLength(5);
      expect(results.filter((r) => r.status === 'skipped')).toHaveLength(5);
      for (const [i, to] of phones.entries()) {
        const { aliyun: a, tencent: t } = ledger(to);
        expect(a.length + t.length).toBe(1);
        expect(await delivery(`dup-${i}`)).toMatchObject({ status: 'SENT', attempts: 1 });
      }
      expect(await hub.db.getRepository(Sms).count()).toBe(5);
    } finally {
      await second.close();
    }
  });

  it('over the account’s limit this second: the claim is given back uncounted, and the message goes out once in a later second', async () => {
    const to = phone();
    // This second and the next already hold the account's whole limit, as if other workers had sent it.
    const second = Math.floor(Date.now() / 1_000);
    for (const s of [second, second + 1]) await hub.redis.set(`${hub.config.redis.queuePrefix}:rate:sms:${s}`, String(hub.config.messaging.sms.ratePerSecond), 'PX', 5_000);
    await finished(await enqueue(to, 'over-the-limit'));
    const { aliyun: sent } = ledger(to);
    expect(sent).toHaveLength(1);
    expect(sent[0]?.sentAt.getTime()).toBeGreaterThanOrEqual((second + 2) * 1_000);
    expect(await delivery('over-the-limit')).toMatchObject({ status: 'SENT', attempts: 1 });
    expect(hub.logText()).toMatch(/"msg":"queue rate limited"/);
  });

  it('marks a lost answer UNKNOWN (sent, answer dropped): job completed, sms pending, never sent again', async () => {
    const to = phone();
    aliyun.inject({ kind: 'drop' });
    const job = await enqueue(to, 'dropped-1');
    expect(await finished(job)).toEqual({ status: 'done', result: { deliveryKey: 'dropped-1', status: 'UNKNOWN' } });
    expect(await job.getState()).toBe('completed');
    expect(await delivery('dropped-1')).toMatchObject({ status: 'UNKNOWN', errorCode: 'OUTCOME_UNKNOWN' });
    const row = await smsRow('dropped-1');
    expect(row.status).toBe(MessageRecordStatus.PENDING);
    expect(row.errorMsg).toMatch(/unknown/i);

    await (await reload(job)).retry('completed');
    // The same job run again, then another job with the same key: both find the delivery settled.
    await until('the re-run skipped', async () => ((await reload(job)).returnvalue as { status?: string } | null)?.status === 'skipped');
    expect(await finished(await enqueue(to, 'dropped-1'))).toMatchObject({ status: 'skipped' });
    expect(ledger(to).aliyun).toHaveLength(1);
    expect(ledger(to).tencent).toHaveLength(0);
    expect(await delivery('dropped-1')).toMatchObject({ status: 'UNKNOWN', attempts: 1 });
  });

  it('delays only the job whose phone hit its per-minute limit; another phone’s message goes out meanwhile', async () => {
    const busy = phone();
    const other = phone();
    await finished(await enqueue(busy, 'limit-first'));
    const tencentSend = jest.spyOn(client('tencent'), 'send');
    const limited = await enqueue(busy, 'limit-second');
    await until('the limited job is delayed', async () => (await limited.getState()) === 'delayed');
    await finished(await enqueue(other, 'limit-other'));
    expect(ledger(other).aliyun).toHaveLength(1);
    expect(ledger(busy)).toMatchObject({ aliyun: [expect.objectContaining({ phone: busy })], tencent: [] });
    expect(tencentSend).not.toHaveBeenCalled();
    const again = await reload(limited);
    expect(await again.getState()).toBe('delayed');
    expect(again.attemptsMade).toBe(0);
    // Owed still; how many times it was claimed and deferred meanwhile is not the point: the ledger is.
    expect(await delivery('limit-second')).toMatchObject({ status: 'PENDING' });
    expect(await smsRow('limit-second')).toMatchObject({ status: MessageRecordStatus.PENDING });
    await limited.remove();
  });

  it('refuses a missing template parameter at once, naming it: nothing sent, no rows', async () => {
    const to = phone();
    const job = await enqueue(to, 'missing-1', { code: '1234' });
    expect(await failed(job)).toContain('template verify-code needs parameter minutes');
    expect((await reload(job)).attemptsMade).toBe(1);
    expect(ledger(to)).toEqual({ aliyun: [], tencent: [] });
    expect(await hub.db.getRepository(HubMessageDelivery).count()).toBe(0);
    expect(await hub.db.getRepository(Sms).count()).toBe(0);
  });

  it('refuses an unknown template and a bad number', async () => {
    const { id } = await hub.enqueue(smsSend, { phone: phone(), templateKey: 'no-such-template' });
    const job = await hub.queues.get('sms').getJob(id);
    if (!job) throw new Error('job vanished');
    expect(await failed(job)).toContain('UNKNOWN_TEMPLATE');
    await expect(hub.enqueue(smsSend, { phone: '12345678901', templateKey: 'verify-code' })).rejects.toThrow(/phone/);
    expect(await hub.db.getRepository(Sms).count()).toBe(0);
  });
});
