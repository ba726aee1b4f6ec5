import type { RedisConnection } from '../lib/redis';
import type { DataSource } from 'typeorm';
import type { Config } from '../lib/config';
import type { Logger } from '../lib/logger';
import { NO_APPLE, openApple, type OpenedApple } from './apple';
import type { AppleIntegration } from './apple/apple.client';
import { NO_MAIL, openMail, type OpenedMail } from './mail';
import type { Mailer } from './mail/mail.client';
import { NO_SCHOOL_TMS, openSchoolTms, type OpenedSchoolTms } from './school-tms';
import type { SchoolTmsClient } from './school-tms/school-tms.client';
import { NO_SMS, openSms, type OpenedSms } from './sms';
import type { SmsProviders } from './sms/sms.providers';
import { NO_WECHAT_MP, openWechatMp, type OpenedWechatMp } from './wechat-mp';
import type { WechatMpAccounts } from './wechat-mp/wechat-mp.accounts';
import { NO_WECHAT_PAY, openWechatPay, type OpenedWechatPay } from './wechat-pay';
import type { WechatPayMerchants } from './wechat-pay/wechat-pay.merchants';

/** Every emulator this process started (`<SYSTEM>_MODE=emulator`), by name. */
export type Emulators = OpenedWechatPay['emulators'] &
  OpenedSms['emulators'] &
  OpenedWechatMp['emulators'] &
  OpenedMail['emulators'] &
  OpenedApple['emulators'] &
  OpenedSchoolTms['emulators'];

/** The outside world as jobs and routes see it: one entry per system, live or pointed at its emulator. */
export interface Integrations {
  readonly wechatPay: WechatPayMerchants;
  readonly sms: SmsProviders;
  readonly wechatMp: WechatMpAccounts;
  readonly mail: Mailer;
  readonly apple: AppleIntegration;
  readonly schoolTms: SchoolTmsClient;
  /** For the demo and for tests to drive. */
  readonly emulators: Emulators;
  close(): Promise<void>;
}

/**
 * Builds every integration from configuration, each through its system's `index.ts`. In emulator
 * mode the emulator starts there, on a loopback port, and the live client talks to it: the code
 * that runs is the production code.
 */
export async function openIntegrations(
  config: Pick<Config, 'wechatPay' | 'messaging' | 'http' | 'redis' | 'apple' | 'schoolTms'>,
  db: DataSource,
  redis: RedisConnection,
  log: Logger,
): Promise<Integrations> {
  const opened: { close(): Promise<void> }[] = [];
  const open = async <T extends { close(): Promise<void> }>(integration: Promise<T>): Promise<T> => {
    const done = await integration;
    opened.push(done);
    return done;
  };
  try {
    const wechatPay = await open(openWechatPay(config.wechatPay, db, log));
    const sms = await open(openSms(config, db, log));
    const wechatMp = await open(openWechatMp(config, db, redis, log));
    const mail = await open(openMail(config.messaging.mail, log));
    const apple = await open(openApple(config.apple, config.http.port, log));
    const schoolTms = await open(openSchoolTms(config.schoolTms, log));
    return {
      wechatPay: wechatPay.client,
      sms: sms.client,
      wechatMp: wechatMp.client,
      mail: mail.client,
      apple: apple.client,
      schoolTms: schoolTms.client,
      emulators: { ...wechatPay.emulators, ...sms.emulators, ...wechatMp.emulators, ...mail.emulators, ...apple.emulators, ...schoolTms.emulators },
      close: () => closeAll(opened),
    };
  } catch (err) {
    // One system's bad configuration must not leave another's emulator listening.
    await closeAll(opened);
    throw err;
  }
}

/** In reverse order of opening; every one is closed even when another fails. */
async function closeAll(opened: readonly { close(): Promise<void> }[]): Promise<void> {
  const results = await Promise.allSettled([...opened].reverse().map((o) => o.close()));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/** For processes whose jobs call no outside system (benchmarks, tests); using it fails, saying so. */
export const NO_INTEGRATIONS: Integrations = {
  wechatPay: NO_WECHAT_PAY,
  sms: NO_SMS,
  wechatMp: NO_WECHAT_MP,
  mail: NO_MAIL,
  apple: NO_APPLE,
  schoolTms: NO_SCHOOL_TMS,
  emulators: {},
  close: () => Promise.resolve(),
};
