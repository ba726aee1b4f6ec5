import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import type { Config } from '../lib/config';
import type { Logger } from '../lib/logger';
import type { AppleIntegration } from './apple/apple.client';
import type { AppleEmulator } from './apple/apple.emulator';
import { NO_APPLE, openApple } from './apple/apple.integration';
import type { SchoolTmsClient } from './school-tms/school-tms.client';
import type { SchoolTmsEmulator } from './school-tms/school-tms.emulator';
import { NO_SCHOOL_TMS, openSchoolTms } from './school-tms/school-tms.integration';
import type { MerchantCredentials } from './wechat-pay/wechat-pay.client';
import { loadMerchantCredentials } from './wechat-pay/wechat-pay.credentials';
import type { WechatPayEmulator } from './wechat-pay/wechat-pay.emulator';
import { LiveWechatPayClient } from './wechat-pay/wechat-pay.live';
import { createMerchants, type ClientFactory, type WechatPayMerchants } from './wechat-pay/wechat-pay.merchants';
import { openMessaging, type Mailer, type MessagingEmulators } from './messaging';
import type { SmsProviders } from './sms/sms.providers';
import type { WechatMpAccounts } from './wechat-mp/wechat-mp.accounts';

/** The outside world as jobs and routes see it: one entry per system, live or pointed at its emulator. */
export interface Integrations {
  readonly wechatPay: WechatPayMerchants;
  readonly sms: SmsProviders;
  readonly wechatMp: WechatMpAccounts;
  readonly mail: Mailer;
  readonly apple: AppleIntegration;
  readonly schoolTms: SchoolTmsClient;
  /** Emulators this process started (`<SYSTEM>_MODE=emulator`), for the demo and for tests to drive. */
  readonly emulators: { readonly wechatPay?: WechatPayEmulator; readonly apple?: AppleEmulator; readonly schoolTms?: SchoolTmsEmulator } & MessagingEmulators;
  close(): Promise<void>;
}

/**
 * Builds every integration from configuration. In emulator mode the emulator starts here, on a
 * loopback port, and the live client talks to it: the code that runs is the production code.
 */
export async function openIntegrations(config: Pick<Config, 'wechatPay' | 'messaging' | 'http' | 'redis' | 'apple' | 'schoolTms'>, db: DataSource, redis: Redis, log: Logger): Promise<Integrations> {
  const wp = config.wechatPay;
  const wechatLog = log.child({ integration: 'wechat-pay' });
  let emulator: WechatPayEmulator | undefined;
  let credentials: MerchantCredentials;
  let baseUrl = wp.baseUrl;
  if (wp.mode === 'emulator') {
    // Loaded only here: a live process never carries the emulator's code.
    const { WechatPayEmulator } = await import('./wechat-pay/wechat-pay.emulator');
    emulator = await WechatPayEmulator.start();
    credentials = emulator.addMerchant({ mchid: wp.mchid, appid: wp.appid, keyMode: 'public_key' });
    baseUrl = emulator.baseUrl;
    wechatLog.info({ baseUrl, mchid: wp.mchid }, 'wechat pay emulator started');
  } else {
    credentials = loadMerchantCredentials({
      mchid: wp.mchid,
      appid: wp.appid,
      serialNo: wp.serialNo ?? '',
      privateKeyFile: wp.privateKeyFile ?? '',
      apiV3Key: wp.apiV3Key ?? '',
      ...(wp.publicKeyId && wp.publicKeyFile ? { publicKeyId: wp.publicKeyId, publicKeyFile: wp.publicKeyFile } : {}),
      platformCertificates: wp.platformCertFiles.map(readPlatformCertificate),
    });
  }
  const makeClient: ClientFactory = (c) => new LiveWechatPayClient(c, { baseUrl, timeoutMs: wp.timeoutMs, log: wechatLog });
  const wechatPay = createMerchants({ defaultClient: makeClient(credentials), db, makeClient, log: wechatLog });
  const messaging = await openMessaging(config, db, redis, log);
  const apple = await openApple(config.apple, config.http.port, log);
  const schoolTms = await openSchoolTms(config.schoolTms, log);
  return {
    wechatPay,
    sms: messaging.sms,
    wechatMp: messaging.wechatMp,
    mail: messaging.mail,
    apple: apple.apple,
    schoolTms: schoolTms.client,
    emulators: {
      ...(emulator ? { wechatPay: emulator } : {}),
      ...(apple.emulator ? { apple: apple.emulator } : {}),
      ...(schoolTms.emulator ? { schoolTms: schoolTms.emulator } : {}),
      ...messaging.emulators,
    },
    async close() {
      await schoolTms.close();
      await apple.close();
      await messaging.close();
      await emulator?.stop();
    },
  };
}

/** A platform certificate file (as WeChat's certificate tool saves it), with the serial it carries. */
function readPlatformCertificate(file: string): { serial: string; pem: string } {
  const pem = readFileSync(file, 'utf8');
  return { serial: new X509Certificate(pem).serialNumber, pem };
}

/** For processes whose jobs call no outside system (benchmarks, tests); using it fails, saying so. */
export const NO_INTEGRATIONS: Integrations = {
  wechatPay: {
    defaultMchid: 'none',
    client: () => Promise.reject(new Error('no WeChat Pay integration was opened in this process')),
    list: () => Promise.resolve([]),
  },
  sms: { chain: [], byName: () => undefined, receiptToken: null },
  wechatMp: { client: () => Promise.reject(new Error('no WeChat messaging integration was opened in this process')) },
  mail: {
    from: 'jobhub <jobhub@localhost>',
    client: { send: () => Promise.reject(new Error('no mail integration was opened in this process')), close: () => Promise.resolve() },
  },
  apple: NO_APPLE,
  schoolTms: NO_SCHOOL_TMS,
  emulators: {},
  close: () => Promise.resolve(),
};
