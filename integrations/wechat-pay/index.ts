import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { DataSource } from 'typeorm';
import type { WechatPayConfig } from '../../lib/config';
import type { Logger } from '../../lib/logger';
import { notOpened, type OpenedIntegration } from '../opened-integration';
import type { MerchantCredentials } from './wechat-pay.client';
import { loadMerchantCredentials } from './wechat-pay.credentials';
import { LiveWechatPayClient } from './wechat-pay.live';
import { createMerchants, type ClientFactory, type WechatPayMerchants } from './wechat-pay.merchants';
import type { WechatPayEmulator } from './emulator/wechat-pay.emulator';

export type OpenedWechatPay = OpenedIntegration<WechatPayMerchants, { readonly wechatPay?: WechatPayEmulator }>;

/**
 * The default merchant from configuration, others from `wx_pay_config`. In emulator mode the
 * emulator starts here with the configured merchant, and the live client talks to it.
 */
export async function openWechatPay(config: WechatPayConfig, db: DataSource, log: Logger): Promise<OpenedWechatPay> {
  const wechatLog = log.child({ integration: 'wechat-pay' });
  let emulator: WechatPayEmulator | undefined;
  let credentials: MerchantCredentials;
  let baseUrl = config.baseUrl;
  if (config.mode === 'emulator') {
    // Loaded only here: a live process never carries the emulator's code.
    const { WechatPayEmulator } = await import('./emulator/wechat-pay.emulator');
    emulator = await WechatPayEmulator.start();
    credentials = emulator.addMerchant({ mchid: config.mchid, appid: config.appid, keyMode: 'public_key' });
    baseUrl = emulator.baseUrl;
    wechatLog.info({ baseUrl, mchid: config.mchid }, 'wechat pay emulator started');
  } else {
    credentials = loadMerchantCredentials({
      mchid: config.mchid,
      appid: config.appid,
      serialNo: config.serialNo ?? '',
      privateKeyFile: config.privateKeyFile ?? '',
      apiV3Key: config.apiV3Key ?? '',
      ...(config.publicKeyId && config.publicKeyFile ? { publicKeyId: config.publicKeyId, publicKeyFile: config.publicKeyFile } : {}),
      platformCertificates: config.platformCertFiles.map(readPlatformCertificate),
    });
  }
  const makeClient: ClientFactory = (c) => new LiveWechatPayClient(c, { baseUrl, timeoutMs: config.timeoutMs, log: wechatLog });
  const client = createMerchants({ defaultClient: makeClient(credentials), db, makeClient, log: wechatLog });
  return { client, emulators: emulator ? { wechatPay: emulator } : {}, close: async () => void (await emulator?.stop()) };
}

/** A platform certificate file (as WeChat's certificate tool saves it), with the serial it carries. */
function readPlatformCertificate(file: string): { serial: string; pem: string } {
  const pem = readFileSync(file, 'utf8');
  return { serial: new X509Certificate(pem).serialNumber, pem };
}

/** For processes that open no WeChat Pay; using it fails, saying so. */
export const NO_WECHAT_PAY: WechatPayMerchants = {
  defaultMchid: 'none',
  client: notOpened('WeChat Pay'),
  list: () => Promise.resolve([]),
};
