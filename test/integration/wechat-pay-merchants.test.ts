import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import { WxPayConfig } from '../../entities/marketing/wx-pay-config.entity';
import { openIntegrations, type Integrations } from '../../integrations';
import { closeRedis } from '../../lib/redis';
import { WechatPayEmulator } from '../../integrations/wechat-pay/emulator/wechat-pay.emulator';
import { clearTables, openTestDataSource } from '../support/db';
import { testConfig } from '../support/env';
import { captureLogger } from '../support/logs';
import { testRedis } from '../support/queues';
import { track } from '../support/resources';

/**
 * The merchants as a deployment configures them: the default one from WECHAT_PAY_* variables in
 * live mode (key files on disk, the API at WECHAT_PAY_BASE_URL), others from wx_pay_config rows
 * whose secrets are references. The emulator plays WeChat; what runs is the production wiring.
 */
describe('WeChat Pay merchants from configuration and wx_pay_config', () => {
  let db: DataSource;
  let redis: Redis;
  let emulator: WechatPayEmulator;
  let emulatorStopped = false;
  let integrations: Integrations | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'jobhub-merchants-'));
  const { log, text } = captureLogger('debug');

  beforeAll(async () => {
    db = await openTestDataSource(testConfig());
    redis = await testRedis();
    emulator = await WechatPayEmulator.start();
    track({ kind: 'closable', value: { isOpen: () => !emulatorStopped }, label: 'wechat-pay emulator' });
    await clearTables(db, [WxPayConfig]);
  });
  afterAll(async () => {
    await integrations?.close();
    await emulator.stop();
    emulatorStopped = true;
    await clearTables(db, [WxPayConfig]);
    await db.destroy();
    await closeRedis(redis);
  });

  it('runs the default merchant live from key files, and a second one from its wx_pay_config row', async () => {
    emulator.addMerchant({ mchid: '1230000109', appid: 'wx0123456789abcdef', keyMode: 'public_key' });
    const main = emulator.writeMerchantFiles('1230000109', join(dir, 'main'));
    const config = testConfig({
      WECHAT_PAY_MODE: 'live',
      WECHAT_PAY_MCHID: '1230000109',
      WECHAT_PAY_APPID: 'wx0123456789abcdef',
      WECHAT_PAY_SERIAL_NO: main.serialNo,
      WECHAT_PAY_PRIVATE_KEY_FILE: main.privateKeyFile,
      WECHAT_PAY_API_V3_KEY: main.apiV3Key,
      WECHAT_PAY_PUBLIC_KEY_ID: main.publicKeyId,
      WECHAT_PAY_PUBLIC_KEY_FILE: main.publicKeyFile,
      WECHAT_PAY_BASE_URL: emulator.baseUrl,
    });
    integrations = await openIntegrations(config, db, redis, log);
    expect(integrations.emulators.wechatPay).toBeUndefined();
    emulator.createOrder({ mchid: '1230000109', out_trade_no: 'MAIN0001', total: 100 });
    emulator.pay('MAIN0001', { notify: false, mchid: '1230000109' });
    const mainClient = await integrations.wechatPay.client('1230000109');
    expect(await mainClient.queryOrder('MAIN0001')).toMatchObject({ trade_state: 'SUCCESS', amount: { total: 100 } });

    // A second merchant: its APIv3 key in a file named by reference, never in the row.
    emulator.addMerchant({ mchid: '1230000200', appid: 'wx00000000000000b2', keyMode: 'public_key' });
    const second = emulator.writeMerchantFiles('1230000200', join(dir, 'second'));
    const keyFile = join(dir, 'second-apiv3.key');
    writeFileSync(keyFile, `${second.apiV3Key}\n`);
    const at = new Date();
    await db.getRepository(WxPayConfig).insert({
      mchid: '1230000200',
      appid: 'wx00000000000000b2',
      merchantSerialNo: second.serialNo,
      privateKeyFile: second.privateKeyFile,
      apiV3KeyRef: `file:${keyFile}`,
      wechatpayPublicKeyId: second.publicKeyId,
      wechatpayPublicKeyFile: second.publicKeyFile,
      enabled: 1,
      createdTime: at,
      updatedTime: at,
      deleted: 0,
    });
    expect(await integrations.wechatPay.list()).toEqual(['1230000109', '1230000200']);
    emulator.createOrder({ mchid: '1230000200', out_trade_no: 'SECOND0001', total: 250 });
    const secondClient = await integrations.wechatPay.client('1230000200');
    expect(secondClient.mchid).toBe('1230000200');
    expect(await secondClient.queryOrder('SECOND0001')).toMatchObject({ trade_state: 'NOTPAY', amount: { total: 250 } });
    // Each merchant's keys are its own: the main merchant cannot see the second one's order.
    expect(await mainClient.queryOrder('SECOND0001')).toBeNull();

    await expect(integrations.wechatPay.client('1239999999')).rejects.toThrow(/UNKNOWN_MERCHANT|no enabled wx_pay_config row/);
    expect(text()).not.toContain(second.apiV3Key);
    expect(text()).not.toContain(main.apiV3Key);
  });
});
