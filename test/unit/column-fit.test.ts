import { columnCapacity, cutToColumn, fitsColumn } from '../../entities/column-fit';
import { Sms } from '../../entities/customer-service/sms.entity';
import { HubMessageDelivery } from '../../entities/hub/hub-message-delivery.entity';
import { PayNotifyLog } from '../../entities/marketing/pay-notify-log.entity';
import { AliyunSmsClient } from '../../integrations/sms/aliyun-sms.live';
import { TencentSmsClient } from '../../integrations/sms/tencent-sms.live';
import { PermanentError } from '../../lib/errors';
import { BODY_LIMIT_BYTES } from '../../server/app';

describe('column bounds, read from the entities', () => {
  it('reads VARCHAR sizes in characters and TEXT sizes in bytes', () => {
    expect(columnCapacity(HubMessageDelivery, 'providerMessageId')).toEqual({ unit: 'chars', max: 200 });
    expect(columnCapacity(HubMessageDelivery, 'receiptCode')).toEqual({ unit: 'chars', max: 64 });
    expect(columnCapacity(Sms, 'errorMsg')).toEqual({ unit: 'bytes', max: 65_535 });
    expect(columnCapacity(PayNotifyLog, 'rawBody')).toEqual({ unit: 'bytes', max: 16_777_215 });
    expect(() => columnCapacity(Sms, 'status')).toThrow(/not a sized text column/);
    expect(() => columnCapacity(Sms, 'nope')).toThrow(/no column nope/);
  });

  it('counts a VARCHAR in code points, as utf8mb4 does', () => {
    expect(fitsColumn(HubMessageDelivery, 'receiptCode', '😀'.repeat(64))).toBe(true);
    expect(fitsColumn(HubMessageDelivery, 'receiptCode', '😀'.repeat(65))).toBe(false);
    expect(cutToColumn(HubMessageDelivery, 'receiptCode', '😀'.repeat(70))).toBe(`${'😀'.repeat(63)}…`);
  });

  it('cuts TEXT to its bytes on a character boundary, marking the cut', () => {
    const cut = cutToColumn(Sms, 'errorMsg', '失'.repeat(30_000));
    expect(Buffer.byteLength(cut, 'utf8')).toBeLessThanOrEqual(65_535);
    expect(cut).toMatch(/^失+…$/u);
    expect(Buffer.byteLength(cut, 'utf8')).toBe(21_844 * 3 + 3);
    expect(cutToColumn(Sms, 'errorMsg', 'short')).toBe('short');
    expect(cutToColumn(Sms, 'errorMsg', 'x'.repeat(65_535))).toBe('x'.repeat(65_535));
  });

  it('keeps every webhook body within pay_notify_log.raw_body', () => {
    expect(BODY_LIMIT_BYTES).toBeLessThanOrEqual(columnCapacity(PayNotifyLog, 'rawBody').max);
  });
});

describe('SMS receipt batches, read row by row', () => {
  const aliyun = new AliyunSmsClient({ endpoint: 'http://127.0.0.1:1', accessKeyId: 'id', accessKeySecret: 'secret', timeoutMs: 1_000 });
  const tencent = new TencentSmsClient({ endpoint: 'http://127.0.0.1:1', secretId: 'id', secretKey: 'key', region: 'ap-guangzhou', sdkAppId: '1400000000', timeoutMs: 1_000 });
  const aliyunRow = (over: Record<string, unknown> = {}) => ({
    phone_number: '13800000000', send_time: '2026-11-23 10:00:00', report_time: '2026-11-23 10:00:05', success: true, err_code: 'DELIVERED', err_msg: '用户接收成功', sms_size: '1', biz_id: '1^0', out_id: '7', ...over,
  });

  it('keeps the good rows and names the bad ones by position and rule, never by value', () => {
    const batch = aliyun.parseReceipt([aliyunRow(), aliyunRow({ success: 'yes' }), 42, aliyunRow({ biz_id: '2^0', phone_number: '9'.repeat(40) }), aliyunRow({ biz_id: '3^0', err_msg: 'e'.repeat(70_000) })]);
    expect(batch.receipts.map((r) => [r.index, r.messageId])).toEqual([[0, '1^0'], [4, '3^0']]);
    expect(batch.receipts[1]?.errMessage).toHaveLength(70_000);
    expect(batch.rejected.map((r) => r.index)).toEqual([1, 2, 3]);
    expect(batch.rejected[0]?.reason).toMatch(/^success: /);
    expect(batch.rejected[2]?.reason).toMatch(/^phone_number: /);
    expect(JSON.stringify(batch.rejected)).not.toContain('9'.repeat(20));
  });

  it('refuses a body that is no array at all, for either vendor', () => {
    expect(() => aliyun.parseReceipt({ biz_id: 'x' })).toThrow(PermanentError);
    expect(() => tencent.parseReceipt('[]')).toThrow(PermanentError);
    expect(tencent.parseReceipt([])).toEqual({ receipts: [], rejected: [] });
  });

  it('reads a Tencent report row by row too', () => {
    const row = { user_receive_time: '2026-11-23 10:00:05', nationcode: '86', mobile: '13800000000', report_status: 'FAIL', errmsg: 'UNDELIV', description: '失败', sid: '2640:1' };
    const batch = tencent.parseReceipt([row, { ...row, report_status: 'MAYBE' }, { ...row, nationcode: '+86' }]);
    expect(batch.receipts).toEqual([expect.objectContaining({ index: 0, provider: 'tencent', messageId: '2640:1', phone: '+8613800000000', success: false })]);
    expect(batch.rejected.map((r) => r.index)).toEqual([1, 2]);
  });
});
