import type { AddressInfo } from 'node:net';
import type { Job, QueueEvents } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { MessageRecordStatus, Sms } from '../../entities/customer-service/sms.entity';
import { HubMessageDelivery } from '../../entities/hub/hub-message-delivery.entity';
import { HubSmsTemplate } from '../../entities/hub/hub-sms-template.entity';
import type { Integrations } from '../../integrations';
import type { AliyunSmsEmulator } from '../../integrations/sms/emulator/aliyun-sms.emulator';
import { smsProviders } from '../../integrations/sms/sms.providers';
import type { TencentSmsEmulator } from '../../integrations/sms/emulator/tencent-sms.emulator';
import { buildRegistry } from '../../jobs/define-job';
import { recordDelivery } from '../../jobs/messaging/delivery';
import { smsCircuitKey } from '../../jobs/messaging/sms-chain';
import { hubRedisKeys } from '../../lib/redis-keys';
import { smsIdFor, smsSend } from '../../jobs/messaging/sms-send.job';
import { formatBeijing } from '../../lib/time';
import { buildApp } from '../../server/app';
import { clearTables, openTestDataSource } from '../support/db';
import { testConfig } from '../support/env';
import { approveSmsTemplate, messagingEmulators } from '../support/messaging';
import { openTestHub, type TestHub } from '../support/hub';
import { testQueueEvents } from '../support/queues';
import { startTcpProxy } from '../support/tcp-proxy';

const TOKEN = 'receipt-token-0123456789abcdef';
const registry = buildRegistry([smsSend]);

describe('SMS delivery receipts: POST /webhooks/sms/:provider', () => {
  let hub: TestHub;
  let events: QueueEvents;
  let aliyun: AliyunSmsEmulator;
  let tencent: TencentSmsEmulator;
  let app: FastifyInstance;
  let integrations: Integrations;
  let seq = 0;

  beforeAll(async () => {
    hub = await openTestHub(__filename, { messaging: true, registry });
    events = await testQueueEvents('sms', hub.prefix);
    ({ aliyun, tencent } = messagingEmulators(hub));
    await clearTables(hub.db, [Sms, HubMessageDelivery, HubSmsTemplate]);
    await approveSmsTemplate(hub, {
      templateKey: 'notice', content: '您的订单${order}已发货', aliyunTemplateCode: 'SMS_200002', aliyunSignName: '测试签名', aliyunParams: { no: 'order' },
      tencentTemplateId: '300003', tencentSignName: '测试签名', tencentParams: ['order'], enabled: 1,
    });
    integrations = { ...hub.integrations, sms: smsProviders(hub.integrations.sms.chain, TOKEN) };
    app = await buildApp({ config: hub.config, log: hub.log, db: hub.db, redis: hub.redis, queues: hub.queues, registry, integrations });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as AddressInfo;
    aliyun.setReceiptUrl(`http://127.0.0.1:${port}/webhooks/sms/aliyun?token=${TOKEN}`);
    tencent.setReceiptUrl(`http://127.0.0.1:${port}/webhooks/sms/tencent?token=${TOKEN}`);
    hub.startWorkers(['sms']);
  });
  afterAll(async () => {
    aliyun.setReceiptUrl(undefined);
    tencent.setReceiptUrl(undefined);
    await events.close();
    await app.close();
    await clearTables(hub.db, [Sms, HubMessageDelivery, HubSmsTemplate]);
    await hub.close();
  });
  beforeEach(async () => {
    await clearTables(hub.db, [Sms, HubMessageDelivery]);
    await hub.redis.del(smsCircuitKey(hubRedisKeys(hub.config.redis), 'aliyun'), smsCircuitKey(hubRedisKeys(hub.config.redis), 'tencent'));
  });

  const phone = (): string => `1390000${String(++seq).padStart(4, '0')}`;
  const delivery = (key: string) => hub.db.getRepository(HubMessageDelivery).findOneByOrFail({ deliveryKey: key });
  const smsRow = (key: string) => hub.db.getRepository(Sms).findOneByOrFail({ smsId: smsIdFor(key) });
  const snapshot = async () => ({
    deliveries: await hub.db.getRepository(HubMessageDelivery).find({ order: { id: 'ASC' } }),
    sms: await hub.db.getRepository(Sms).find({ order: { id: 'ASC' } }),
  });

  /** Sends through the real job and waits for the job and for the emulators' receipt pushes. */
  async function sendAndSettle(to: string, key: string): Promise<unknown> {
    const { id } = await hub.enqueue(smsSend, { phone: to, templateKey: 'notice', params: { order: `NO${seq}` }, deliveryKey: key });
    const job: Job | undefined = await hub.queues.get('sms').getJob(id);
    if (!job) throw new Error('job vanished');
    const result = await job.waitUntilFinished(events, 20_000);
    await Promise.all([aliyun.receiptsSettled(), tencent.receiptsSettled()]);
    return result;
  }

  /** A receipt batch as Aliyun pushes it (SmsReport). */
  const aliyunReceipt = (o: { phone: string; bizId: string; outId?: string; success?: boolean; errCode?: string; errMsg?: string; at?: Date }) => [{
    phone_number: o.phone, send_time: formatBeijing(o.at ?? new Date()), report_time: formatBeijing(o.at ?? new Date()), success: o.success ?? true,
    err_code: o.errCode ?? 'DELIVERED', err_msg: o.errMsg ?? '用户接收成功', sms_size: '1', biz_id: o.bizId, out_id: o.outId ?? '',
  }];
  const push = (provider: string, body: unknown, token: string | null = TOKEN) =>
    app.inject({ method: 'POST', url: `/webhooks/sms/${provider}${token === null ? '' : `?token=${token}`}`, headers: { 'content-type': 'application/json' }, payload: typeof body === 'string' ? body : JSON.stringify(body) });

  it('applies a delivered receipt pushed by Aliyun: receipt DELIVERED on the delivery, the push acknowledged', async () => {
    const to = phone();
    await sendAndSettle(to, 'r-delivered');
    const d = await delivery('r-delivered');
    expect(d).toMatchObject({ status: 'SENT', provider: 'aliyun', receiptStatus: 'DELIVERED', receiptCode: 'DELIVERED' });
    expect(d.receiptTime).not.toBeNull();
    expect(await smsRow('r-delivered')).toMatchObject({ status: MessageRecordStatus.SENT });
    const pushes = aliyun.receiptDeliveries.filter((r) => r.messageId === d.providerMessageId);
    expect(pushes).toEqual([expect.objectContaining({ attempt: 1, status: 200, acked: true })]);
  });

  it('applies a failed receipt: the sms row becomes failed with the carrier code, the delivery stays SENT', async () => {
    const to = phone();
    aliyun.setReceiptOutcome(to, { success: false, errCode: 'MBBLACK', errMessage: '黑名单' });
    await sendAndSettle(to, 'r-failed');
    expect(await delivery('r-failed')).toMatchObject({ status: 'SENT', receiptStatus: 'UNDELIVERED', receiptCode: 'MBBLACK' });
    expect(await smsRow('r-failed')).toMatchObject({ status: MessageRecordStatus.FAILED, errorMsg: 'receipt MBBLACK: 黑名单' });
  });

  it('applies a Tencent status report (after failover), matched by its SessionContext', async () => {
    const to = phone();
    aliyun.inject({ kind: 'http', status: 503 });
    await sendAndSettle(to, 'r-tencent');
    const d = await delivery('r-tencent');
    expect(d).toMatchObject({ status: 'SENT', provider: 'tencent', receiptStatus: 'DELIVERED', receiptCode: 'DELIVRD' });
    expect(tencent.receiptDeliveries.filter((r) => r.messageId === d.providerMessageId)).toEqual([expect.objectContaining({ acked: true })]);
  });

  it('settles an UNKNOWN delivery (answer lost) as SENT when its receipt arrives', async () => {
    const to = phone();
    const url = `${app.listeningOrigin}/webhooks/sms/aliyun?token=${TOKEN}`;
    aliyun.setReceiptUrl(undefined); // held back, so the job settles UNKNOWN before the receipt comes
    try {
      aliyun.inject({ kind: 'drop' });
      expect(await sendAndSettle(to, 'r-unknown')).toMatchObject({ status: 'done', result: { status: 'UNKNOWN' } });
    } finally {
      aliyun.setReceiptUrl(url);
    }
    const before = await delivery('r-unknown');
    expect(before).toMatchObject({ status: 'UNKNOWN', provider: null, providerMessageId: null });
    const [sent] = aliyun.messages.filter((m) => m.phone === to);
    expect(sent?.outId).toBe(before.id);
    const res = await push('aliyun', aliyunReceipt({ phone: to, bizId: sent?.messageId ?? '', outId: sent?.outId }));
    expect(res.statusCode).toBe(200);
    expect(await delivery('r-unknown')).toMatchObject({ status: 'SENT', provider: 'aliyun', providerMessageId: sent?.messageId, receiptStatus: 'DELIVERED', errorCode: null });
    expect(await smsRow('r-unknown')).toMatchObject({ status: MessageRecordStatus.SENT });
  });

  it('settles a delivery still SENDING (its answer not yet saved) when the receipt comes first', async () => {
    const to = phone();
    const now = new Date();
    await hub.db.transaction(async (m) => {
      await m.getRepository(Sms).insert({ smsId: 'sms-race-1', phone: to, templateId: 'notice', params: '{}', content: 'x', status: 0, createdAt: now });
      await recordDelivery(m, { key: 'r-race', channel: 'sms', recipient: to, jobName: 'sms-send', payload: { deliveryKey: 'r-race' }, recordId: 'sms-race-1', jobId: 'j1' }, now);
    });
    await hub.db.getRepository(HubMessageDelivery).update({ deliveryKey: 'r-race' }, { status: 'SENDING', sendingTime: now });
    const d = await delivery('r-race');
    const report = [{ user_receive_time: formatBeijing(now), nationcode: '86', mobile: to, report_status: 'SUCCESS', errmsg: 'DELIVRD', description: '用户接收成功', sid: '2640:race-1', ext: d.id }];
    const res = await push('tencent', report);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ result: 0, errmsg: 'OK' });
    expect(await delivery('r-race')).toMatchObject({ status: 'SENT', provider: 'tencent', providerMessageId: '2640:race-1', receiptStatus: 'DELIVERED' });
    expect(await hub.db.getRepository(Sms).findOneByOrFail({ smsId: 'sms-race-1' })).toMatchObject({ status: MessageRecordStatus.SENT });
  });

  it('changes nothing more when the same receipt comes twice', async () => {
    const to = phone();
    aliyun.setReceiptOutcome(to, { success: false, errCode: 'UNDELIV', errMessage: '失败' });
    await sendAndSettle(to, 'r-twice');
    const d = await delivery('r-twice');
    const before = await snapshot();
    const again = aliyunReceipt({ phone: to, bizId: d.providerMessageId ?? '', outId: d.id, success: false, errCode: 'UNDELIV', errMsg: '失败', at: d.receiptTime ?? new Date() });
    for (let i = 0; i < 2; i++) {
      const res = await push('aliyun', again);
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ code: 0, msg: '接收成功' });
    }
    expect(await snapshot()).toEqual(before);
    expect(await smsRow('r-twice')).toMatchObject({ status: MessageRecordStatus.FAILED, errorMsg: 'receipt UNDELIV: 失败' });
  });

  it('refuses a missing or wrong token with 403 and writes nothing; no token configured refuses every push', async () => {
    const to = phone();
    const now = new Date();
    await recordDelivery(hub.db.manager, { key: 'r-token', channel: 'sms', recipient: to, jobName: 'sms-send', payload: { deliveryKey: 'r-token' } }, now);
    await hub.db.getRepository(HubMessageDelivery).update({ deliveryKey: 'r-token' }, { status: 'UNKNOWN' });
    const d = await delivery('r-token');
    const body = aliyunReceipt({ phone: to, bizId: 'forged-1', outId: d.id });
    const before = await snapshot();
    expect((await push('aliyun', body, 'wrong-token-0123456789abcdef')).statusCode).toBe(403);
    expect((await push('aliyun', body, null)).statusCode).toBe(403);
    expect((await push('aliyun', body, '')).statusCode).toBe(403);
    const noToken = await buildApp({ config: hub.config, log: hub.log, db: hub.db, redis: hub.redis, queues: hub.queues, registry, integrations: hub.integrations });
    try {
      const res = await noToken.inject({ method: 'POST', url: `/webhooks/sms/aliyun?token=${TOKEN}`, headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) });
      expect(res.statusCode).toBe(403);
    } finally {
      await noToken.close();
    }
    expect(await snapshot()).toEqual(before);
  });

  it('answers 404 for an unknown provider and 400 for a malformed body', async () => {
    expect((await push('twilio', aliyunReceipt({ phone: phone(), bizId: '1^0' }))).statusCode).toBe(404);
    expect((await push('aliyun', '{not json')).statusCode).toBe(400);
    expect((await push('aliyun', { biz_id: 'x' })).statusCode).toBe(400);
    expect((await push('tencent', aliyunReceipt({ phone: phone(), bizId: '1^0' }))).statusCode).toBe(400);
  });

  /** A delivery already SENT by `provider` as `messageId` (or left UNKNOWN, its answer lost), with its `sms` row pending. */
  async function sentDelivery(key: string, provider: 'aliyun' | 'tencent', messageId: string, status: 'SENT' | 'UNKNOWN' = 'SENT'): Promise<HubMessageDelivery> {
    const to = phone();
    const now = new Date();
    await hub.db.transaction(async (m) => {
      await m.getRepository(Sms).insert({ smsId: `sms-${key}`, phone: to, templateId: 'notice', params: '{}', content: 'x', status: MessageRecordStatus.PENDING, createdAt: now });
      await recordDelivery(m, { key, channel: 'sms', recipient: to, jobName: 'sms-send', payload: { deliveryKey: key }, recordId: `sms-${key}`, jobId: 'j1' }, now);
    });
    const sent = status === 'SENT' ? { provider, providerMessageId: messageId, sentTime: now } : {};
    await hub.db.getRepository(HubMessageDelivery).update({ deliveryKey: key }, { status, ...sent });
    return delivery(key);
  }
  const smsOf = (key: string) => hub.db.getRepository(Sms).findOneByOrFail({ smsId: `sms-${key}` });
  const refusedLogs = () => hub.logText().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { msg?: string; refused?: { index: number; reason: string }[] }).filter((l) => l.msg?.startsWith('sms receipts refused'));

  it('cuts a 70,000-character err_msg to its column and applies the whole batch (Aliyun)', async () => {
    const [a, b, c] = [await sentDelivery('r-long-a', 'aliyun', '7001^0'), await sentDelivery('r-long-b', 'aliyun', '7002^0'), await sentDelivery('r-long-c', 'aliyun', '7003^0')];
    const batch = [
      ...aliyunReceipt({ phone: a.recipient, bizId: '7001^0' }),
      ...aliyunReceipt({ phone: b.recipient, bizId: '7002^0', success: false, errCode: 'UNDELIV', errMsg: 'x'.repeat(70_000) }),
      ...aliyunReceipt({ phone: c.recipient, bizId: '7003^0', success: false, errCode: 'MBBLACK', errMsg: '黑名单' }),
    ];
    const res = await push('aliyun', batch);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ code: 0, msg: '接收成功' });
    expect(await smsOf('r-long-a')).toMatchObject({ status: MessageRecordStatus.SENT });
    expect(await smsOf('r-long-c')).toMatchObject({ status: MessageRecordStatus.FAILED, errorMsg: 'receipt MBBLACK: 黑名单' });
    const cut = (await smsOf('r-long-b')).errorMsg ?? '';
    expect(cut.startsWith('receipt UNDELIV: xxxx')).toBe(true);
    expect(cut.endsWith('…')).toBe(true);
    expect(Buffer.byteLength(cut, 'utf8')).toBeLessThanOrEqual(65_535);
    expect(Buffer.byteLength(cut, 'utf8')).toBeGreaterThan(65_500);
    expect(await delivery('r-long-b')).toMatchObject({ receiptStatus: 'UNDELIVERED', receiptCode: 'UNDELIV' });
  });

  it('cuts a long Tencent description on a character boundary and a long carrier code to its column', async () => {
    const d = await sentDelivery('r-long-tc', 'tencent', '2640:long-1');
    const report = [{ user_receive_time: formatBeijing(new Date()), nationcode: '86', mobile: d.recipient, report_status: 'FAIL', errmsg: `E:${'9'.repeat(100)}`, description: '失败'.repeat(15_000), sid: '2640:long-1' }];
    const res = await push('tencent', report);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ result: 0, errmsg: 'OK' });
    const cut = (await smsOf('r-long-tc')).errorMsg ?? '';
    expect(Buffer.byteLength(cut, 'utf8')).toBeLessThanOrEqual(65_535);
    expect(cut).toMatch(/^receipt E:9+: (失败)+失?…$/u);
    expect((await delivery('r-long-tc')).receiptCode).toBe(`E:${'9'.repeat(61)}…`);
  });

  it('applies the good rows of a batch with malformed rows and an id too long for its column, and reports the bad ones', async () => {
    const [a, b] = [await sentDelivery('r-bad-a', 'aliyun', '7101^0'), await sentDelivery('r-bad-b', 'aliyun', '7102^0')];
    const unknown = await sentDelivery('r-bad-long-id', 'aliyun', '', 'UNKNOWN');
    const batch = [
      ...aliyunReceipt({ phone: a.recipient, bizId: '7101^0' }),
      { phone_number: b.recipient, success: 'yes', biz_id: '7102^0' },
      ...aliyunReceipt({ phone: unknown.recipient, bizId: `${'8'.repeat(300)}^0`, outId: unknown.id }),
      'not a row',
      ...aliyunReceipt({ phone: b.recipient, bizId: '7102^0', success: false, errCode: 'UNDELIV', errMsg: '失败' }),
    ];
    const res = await push('aliyun', batch);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ code: 0, msg: '接收成功' });
    expect(await smsOf('r-bad-a')).toMatchObject({ status: MessageRecordStatus.SENT });
    expect(await smsOf('r-bad-b')).toMatchObject({ status: MessageRecordStatus.FAILED, errorMsg: 'receipt UNDELIV: 失败' });
    // Its id would not fit: refused whole, not cut into another message's id.
    expect(await delivery('r-bad-long-id')).toMatchObject({ status: 'UNKNOWN', providerMessageId: null, receiptStatus: null });
    const [report] = refusedLogs().slice(-1);
    expect(report?.refused?.map((r) => r.index)).toEqual([1, 2, 3]);
    expect(report?.refused?.[1]?.reason).toMatch(/provider_message_id/);
    expect(hub.logText()).not.toContain('8'.repeat(100));
  });

  it('undoes only the receipt whose value the database refuses (a column narrower than its entity says)', async () => {
    const [a, b] = [await sentDelivery('r-drift-a', 'aliyun', '7201^0'), await sentDelivery('r-drift-b', 'aliyun', '7202^0')];
    await hub.db.query('ALTER TABLE sms MODIFY error_msg TINYTEXT NULL');
    try {
      const batch = [
        ...aliyunReceipt({ phone: a.recipient, bizId: '7201^0', success: false, errCode: 'UNDELIV', errMsg: 'y'.repeat(400) }),
        ...aliyunReceipt({ phone: b.recipient, bizId: '7202^0' }),
      ];
      const res = await push('aliyun', batch);
      expect(res.statusCode).toBe(200);
    } finally {
      await hub.db.query('ALTER TABLE sms MODIFY error_msg TEXT NULL');
    }
    expect(await smsOf('r-drift-b')).toMatchObject({ status: MessageRecordStatus.SENT });
    // The refused receipt left nothing behind: neither its sms row nor its delivery moved.
    expect(await smsOf('r-drift-a')).toMatchObject({ status: MessageRecordStatus.PENDING, errorMsg: null });
    expect(await delivery('r-drift-a')).toMatchObject({ receiptStatus: null, receiptCode: null });
    const [report] = refusedLogs().slice(-1);
    expect(report?.refused).toEqual([{ index: 0, messageId: '7201^0', reason: 'the database refused a value (ER_DATA_TOO_LONG)' }]);
  });

  it('answers 503, not the acknowledgement, while the database is unreachable, so the vendor pushes the batch again', async () => {
    const d = await sentDelivery('r-db-down', 'aliyun', '7301^0');
    const proxy = await startTcpProxy(hub.config.mysql.host, hub.config.mysql.port);
    const viaProxy = new URL(hub.config.mysql.url);
    viaProxy.hostname = '127.0.0.1';
    viaProxy.port = String(proxy.port);
    const proxied = await openTestDataSource(testConfig({ MYSQL_URL: viaProxy.toString() }));
    const down = await buildApp({ config: hub.config, log: hub.log, db: proxied, redis: hub.redis, queues: hub.queues, registry, integrations });
    try {
      const body = JSON.stringify(aliyunReceipt({ phone: d.recipient, bizId: '7301^0' }));
      const send = () => down.inject({ method: 'POST', url: `/webhooks/sms/aliyun?token=${TOKEN}`, headers: { 'content-type': 'application/json' }, payload: body });
      await proxy.cut();
      const refused = await send();
      expect(refused.statusCode).toBe(503);
      expect(refused.json()).not.toMatchObject({ code: 0 });
      expect(await smsOf('r-db-down')).toMatchObject({ status: MessageRecordStatus.PENDING });
      await proxy.restore();
      const again = await send();
      expect(again.statusCode).toBe(200);
      expect(again.json()).toEqual({ code: 0, msg: '接收成功' });
      expect(await smsOf('r-db-down')).toMatchObject({ status: MessageRecordStatus.SENT });
    } finally {
      await down.close();
      await proxied.destroy();
      await proxy.close();
    }
  });

  it('acknowledges a receipt that matches no delivery, changing nothing', async () => {
    const to = phone();
    await sendAndSettle(to, 'r-other');
    const before = await snapshot();
    const res = await push('aliyun', aliyunReceipt({ phone: phone(), bizId: '999999^0', outId: '999999999' }));
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ code: 0, msg: '接收成功' });
    expect(await snapshot()).toEqual(before);
  });
});
