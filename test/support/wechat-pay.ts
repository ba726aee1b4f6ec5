import type { DataSource } from 'typeorm';
import { NO_INTEGRATIONS, type Integrations } from '../../integrations';
import type { MerchantCredentials, WechatPayClient } from '../../integrations/wechat-pay/wechat-pay.client';
import { WechatPayEmulator, type EmulatorOptions, type KeyMode } from '../../integrations/wechat-pay/emulator/wechat-pay.emulator';
import { LiveWechatPayClient } from '../../integrations/wechat-pay/wechat-pay.live';
import { createMerchants } from '../../integrations/wechat-pay/wechat-pay.merchants';
import type { Logger } from '../../lib/logger';
import { track } from './resources';

export const TEST_MCHID = '1900000001';
export const TEST_APPID = 'wxd678efh567hg6787';

export interface TestWechatPayOptions extends EmulatorOptions {
  mchid?: string;
  appid?: string;
  keyMode?: KeyMode;
  timeoutMs?: number;
}

export interface TestWechatPay {
  emulator: WechatPayEmulator;
  credentials: MerchantCredentials;
  /** The live client of the default merchant, pointed at the emulator. */
  client: WechatPayClient;
  integrations: Integrations;
}

/** The WeChat Pay emulator on a loopback port and the hub's real client and merchants registry pointed at it. */
export async function openTestWechatPay(db: DataSource, log: Logger, options: TestWechatPayOptions = {}): Promise<TestWechatPay> {
  const { mchid = TEST_MCHID, appid = TEST_APPID, keyMode = 'public_key', timeoutMs = 5_000, ...emulatorOptions } = options;
  const emulator = await WechatPayEmulator.start(emulatorOptions);
  let open = true;
  track({ kind: 'closable', value: { isOpen: () => open }, label: 'wechat-pay emulator' });
  const credentials = emulator.addMerchant({ mchid, appid, keyMode });
  const makeClient = (c: MerchantCredentials): WechatPayClient => new LiveWechatPayClient(c, { baseUrl: emulator.baseUrl, timeoutMs, log });
  const client = makeClient(credentials);
  const integrations: Integrations = {
    ...NO_INTEGRATIONS,
    wechatPay: createMerchants({ defaultClient: client, db, makeClient, log }),
    emulators: { wechatPay: emulator },
    async close() {
      open = false;
      await emulator.stop();
    },
  };
  return { emulator, credentials, client, integrations };
}
