import { z } from 'zod';
import { integrationMode, optionalOrigin, optionalText, timeoutMs } from './config-fields';

/**
 * The messaging part of the environment (SMS, WeChat messages, e-mail, ops alerts, notify-dispatch).
 * lib/config.ts merges it into the one schema; this file only parses what it is given.
 */

const SMS_PROVIDERS = ['aliyun', 'tencent'] as const;
export type SmsProviderName = (typeof SMS_PROVIDERS)[number];
export type NotifyRecipientKind = 'member' | 'user';

const EMAIL = /^[^\s@,<>]+@[^\s@,<>]+\.[^\s@,<>]+$/;
const WECHAT_APPID = /^wx[0-9a-zA-Z]{16}$/;

const appid = optionalText.refine((v) => v === undefined || WECHAT_APPID.test(v), { message: 'expected an appid such as wx0123456789abcdef' });

/** `project:member|user` pairs; `*` is every other project. Null when malformed. */
export function parseNotifyRecipients(text: string): Map<string, NotifyRecipientKind> | null {
  const out = new Map<string, NotifyRecipientKind>();
  for (const pair of text.split(',')) {
    const match = /^\s*([^\s:,]{1,50}):(member|user)\s*$/.exec(pair);
    if (!match?.[1] || !match[2]) return null;
    out.set(match[1], match[2] as NotifyRecipientKind);
  }
  return out;
}

export const messagingEnv = {
  SMS_MODE: integrationMode.describe('emulator starts the SMS (Aliyun, Tencent) emulators in-process (refused in production); default emulator in development, live in production'),
  SMS_PROVIDERS: optionalText.refine((v) => v === undefined || v.split(',').every((p) => (SMS_PROVIDERS as readonly string[]).includes(p.trim())), {
    message: 'expected aliyun, tencent or both, in the order to try them',
  }).describe('The SMS chain, in the order tried (default aliyun,tencent)'),
  SMS_RATE_LIMIT_PER_SECOND: z.coerce.number().int().min(1).max(100_000).default(100).describe('The SMS account\'s sending limit, enforced on the sms queue across every worker'),
  SMS_TIMEOUT_MS: timeoutMs(5_000).describe('Per-request timeout of SMS provider calls'),
  SMS_RECEIPT_TOKEN: optionalText.refine((v) => v === undefined || /^[A-Za-z0-9_-]{16,128}$/.test(v), {
    message: 'expected 16–128 letters, digits, _ or -',
  }).describe('The token receipt pushes must carry (a fixed token in development); required in live mode'),
  ALIYUN_SMS_ACCESS_KEY_ID: optionalText.describe('Aliyun\'s AccessKey id (live mode with aliyun in the chain)'),
  ALIYUN_SMS_ACCESS_KEY_SECRET: optionalText.describe('Aliyun\'s AccessKey secret (live mode with aliyun in the chain)'),
  ALIYUN_SMS_ENDPOINT: optionalOrigin('https://dysmsapi.aliyuncs.com').describe('Aliyun SMS API origin (default https://dysmsapi.aliyuncs.com)'),
  ALIYUN_SMS_REGION: z.string().regex(/^[a-z0-9-]{2,32}$/, 'expected a region such as cn-hangzhou').default('cn-hangzhou').describe('Aliyun SMS region'),
  TENCENT_SMS_SECRET_ID: optionalText.describe('Tencent\'s API SecretId (live mode with tencent in the chain)'),
  TENCENT_SMS_SECRET_KEY: optionalText.describe('Tencent\'s API SecretKey (live mode with tencent in the chain)'),
  TENCENT_SMS_SDK_APP_ID: optionalText.refine((v) => v === undefined || /^\d{6,20}$/.test(v), { message: 'expected the SmsSdkAppId (digits)' }).describe('Tencent\'s SMS application, SmsSdkAppId (live mode with tencent in the chain)'),
  TENCENT_SMS_REGION: z.string().regex(/^[a-z0-9-]{2,32}$/, 'expected a region such as ap-guangzhou').default('ap-guangzhou').describe('Tencent SMS region'),
  TENCENT_SMS_ENDPOINT: optionalOrigin('https://sms.tencentcloudapi.com').describe('Tencent SMS API origin (default https://sms.tencentcloudapi.com)'),
  WECHAT_MP_MODE: integrationMode.describe('emulator starts the WeChat emulators in-process (refused in production); default emulator in development, live in production'),
  WECHAT_MP_APPID: appid.describe('The default official account (an emulator app in emulator mode); others are wx_mp_account rows'),
  WECHAT_MP_SECRET: optionalText.describe('The default official account\'s secret'),
  WECHAT_MINIAPP_APPID: appid.describe('The default mini-program (an emulator app in emulator mode); others are wx_miniapp_account rows'),
  WECHAT_MINIAPP_SECRET: optionalText.describe('The default mini-program\'s secret'),
  WECHAT_MP_BASE_URL: optionalOrigin('https://api.weixin.qq.com').describe('WeChat API origin (default https://api.weixin.qq.com)'),
  WECHAT_MP_TIMEOUT_MS: timeoutMs(5_000).describe('Per-request timeout of WeChat message calls'),
  SMTP_URL: optionalText.refine((v) => v === undefined || /^smtps?:\/\/[^/]+\/?$/.test(v), { message: 'expected smtp://user:password@host:587 or smtps://…:465' }).describe('Outgoing mail, smtp://...:587 or smtps://...:465 (a local SMTP peer in development); required in production'),
  MAIL_FROM: optionalText.describe('Sender of outgoing mail; required in production'),
  OPS_EMAILS: optionalText.refine((v) => v === undefined || v.split(',').every((a) => EMAIL.test(a.trim())), { message: 'expected comma-separated e-mail addresses' }).describe('Where ops alerts go, comma-separated; required in production'),
  HUB_ALERT_FAILED_THRESHOLD: z.coerce.number().int().min(1).max(1_000_000).default(50).describe('A queue with this many failed jobs alerts ops (once an hour while it stays so)'),
  NOTIFY_RECIPIENTS: optionalText.refine((v) => v === undefined || parseNotifyRecipients(v) !== null, {
    message: 'expected comma-separated project:member or project:user pairs (* for every other project)',
  }).describe('Which system notifies.user_id points into per project, project:member or project:user pairs (default *:member)'),
  NOTIFY_SMS_TEMPLATE: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'expected a hub_sms_template key').default('notify').describe('The SMS template (hub_sms_template key) of notifications'),
};

type MessagingEnv = { HUB_ENV: 'development' | 'production' } & z.output<z.ZodObject<typeof messagingEnv>>;

type Issue = (path: string, message: string) => void;

const defaultMode = (mode: 'live' | 'emulator' | undefined, hubEnv: MessagingEnv['HUB_ENV']): 'live' | 'emulator' =>
  mode ?? (hubEnv === 'production' ? 'live' : 'emulator');

function providersOf(e: MessagingEnv): SmsProviderName[] {
  return e.SMS_PROVIDERS ? [...new Set(e.SMS_PROVIDERS.split(',').map((p) => p.trim() as SmsProviderName))] : [...SMS_PROVIDERS];
}

/** Cross-field rules: live credentials where live, no emulator and real alert routes in production. */
export function checkMessagingEnv(e: MessagingEnv, issue: Issue): void {
  if (defaultMode(e.SMS_MODE, e.HUB_ENV) === 'live') {
    const needs = { aliyun: ['ALIYUN_SMS_ACCESS_KEY_ID', 'ALIYUN_SMS_ACCESS_KEY_SECRET'], tencent: ['TENCENT_SMS_SECRET_ID', 'TENCENT_SMS_SECRET_KEY', 'TENCENT_SMS_SDK_APP_ID'] } as const;
    for (const provider of providersOf(e)) {
      for (const name of needs[provider]) if (!e[name]) issue(name, `required when SMS_MODE=live and ${provider} is in SMS_PROVIDERS`);
    }
    if (!e.SMS_RECEIPT_TOKEN) issue('SMS_RECEIPT_TOKEN', 'required when SMS_MODE=live: receipts are refused without it');
  }
  if (defaultMode(e.WECHAT_MP_MODE, e.HUB_ENV) === 'live') {
    if (Boolean(e.WECHAT_MP_APPID) !== Boolean(e.WECHAT_MP_SECRET)) issue(e.WECHAT_MP_APPID ? 'WECHAT_MP_SECRET' : 'WECHAT_MP_APPID', 'the official account needs both its appid and its secret');
    if (Boolean(e.WECHAT_MINIAPP_APPID) !== Boolean(e.WECHAT_MINIAPP_SECRET)) issue(e.WECHAT_MINIAPP_APPID ? 'WECHAT_MINIAPP_SECRET' : 'WECHAT_MINIAPP_APPID', 'the mini-program needs both its appid and its secret');
  }
  if (e.HUB_ENV !== 'production') return;
  for (const name of ['SMS_MODE', 'WECHAT_MP_MODE'] as const) if (e[name] === 'emulator') issue(name, 'the emulator is refused when HUB_ENV=production');
  for (const name of ['SMTP_URL', 'MAIL_FROM', 'OPS_EMAILS'] as const) if (!e[name]) issue(name, 'required when HUB_ENV=production (ops alerts go out by e-mail)');
}

export interface SmsConfig {
  readonly mode: 'live' | 'emulator';
  /** In the order they are tried: the first is primary, the next takes over on transient failure. */
  readonly providers: readonly SmsProviderName[];
  /** The vendor account's sending limit, applied to the `sms` queue across every worker. */
  readonly ratePerSecond: number;
  readonly timeoutMs: number;
  /** Required in the receipt URL's `token` query: vendors sign no receipts. */
  readonly receiptToken: string | null;
  readonly aliyun: { readonly accessKeyId: string; readonly accessKeySecret: string; readonly endpoint: string; readonly region: string } | null;
  readonly tencent: { readonly secretId: string; readonly secretKey: string; readonly sdkAppId: string; readonly region: string; readonly endpoint: string } | null;
}

export interface WechatMpAccountConfig {
  readonly appid: string;
  readonly secret: string;
}

export interface MessagingConfig {
  readonly sms: SmsConfig;
  readonly wechatMp: {
    readonly mode: 'live' | 'emulator';
    readonly baseUrl: string;
    readonly timeoutMs: number;
    /** The default official account (template messages); others are `wx_mp_account` rows. */
    readonly officialAccount: WechatMpAccountConfig | null;
    /** The default mini-program (subscribe messages); others are `wx_miniapp_account` rows. */
    readonly miniapp: WechatMpAccountConfig | null;
  };
  readonly mail: {
    /** Null in development: an in-process SMTP peer takes the mail. */
    readonly smtpUrl: string | null;
    readonly from: string;
  };
  readonly opsEmails: readonly string[];
  /** A queue with this many failed jobs alerts ops. */
  readonly alertFailedThreshold: number;
  readonly notify: {
    /** Project id → where its `notifies.user_id` points: a marketing `member` or an app `user`. */
    readonly recipients: ReadonlyMap<string, NotifyRecipientKind>;
    readonly smsTemplate: string;
  };
}

/** Development only: the emulators' receipt pushes carry it; production requires its own. */
const DEV_RECEIPT_TOKEN = 'sandbox-sms-receipt-token';

/** The emulator's accounts when no WECHAT_MP_* / WECHAT_MINIAPP_* is set. */
const EMULATOR_MP = { appid: 'wx5ea1c0de0f0a0001', secret: 'emulator-official-account-secret' };
const EMULATOR_MINIAPP = { appid: 'wx5ea1c0de0f0a0002', secret: 'emulator-mini-program-secret' };

function account(appidValue: string | undefined, secret: string | undefined, fallback: WechatMpAccountConfig | null): WechatMpAccountConfig | null {
  return appidValue && secret ? { appid: appidValue, secret } : fallback;
}

export function messagingConfig(e: MessagingEnv): MessagingConfig {
  const smsMode = defaultMode(e.SMS_MODE, e.HUB_ENV);
  const mpMode = defaultMode(e.WECHAT_MP_MODE, e.HUB_ENV);
  const trim = (url: string): string => url.replace(/\/$/, '');
  return {
    sms: {
      mode: smsMode,
      providers: providersOf(e),
      ratePerSecond: e.SMS_RATE_LIMIT_PER_SECOND,
      timeoutMs: e.SMS_TIMEOUT_MS,
      receiptToken: e.SMS_RECEIPT_TOKEN ?? (e.HUB_ENV === 'development' ? DEV_RECEIPT_TOKEN : null),
      aliyun:
        e.ALIYUN_SMS_ACCESS_KEY_ID && e.ALIYUN_SMS_ACCESS_KEY_SECRET
          ? { accessKeyId: e.ALIYUN_SMS_ACCESS_KEY_ID, accessKeySecret: e.ALIYUN_SMS_ACCESS_KEY_SECRET, endpoint: trim(e.ALIYUN_SMS_ENDPOINT ?? 'https://dysmsapi.aliyuncs.com'), region: e.ALIYUN_SMS_REGION }
          : null,
      tencent:
        e.TENCENT_SMS_SECRET_ID && e.TENCENT_SMS_SECRET_KEY && e.TENCENT_SMS_SDK_APP_ID
          ? { secretId: e.TENCENT_SMS_SECRET_ID, secretKey: e.TENCENT_SMS_SECRET_KEY, sdkAppId: e.TENCENT_SMS_SDK_APP_ID, region: e.TENCENT_SMS_REGION, endpoint: trim(e.TENCENT_SMS_ENDPOINT ?? 'https://sms.tencentcloudapi.com') }
          : null,
    },
    wechatMp: {
      mode: mpMode,
      baseUrl: trim(e.WECHAT_MP_BASE_URL ?? 'https://api.weixin.qq.com'),
      timeoutMs: e.WECHAT_MP_TIMEOUT_MS,
      officialAccount: account(e.WECHAT_MP_APPID, e.WECHAT_MP_SECRET, mpMode === 'emulator' ? EMULATOR_MP : null),
      miniapp: account(e.WECHAT_MINIAPP_APPID, e.WECHAT_MINIAPP_SECRET, mpMode === 'emulator' ? EMULATOR_MINIAPP : null),
    },
    mail: { smtpUrl: e.SMTP_URL ?? null, from: e.MAIL_FROM ?? 'jobhub <jobhub@localhost>' },
    opsEmails: e.OPS_EMAILS?.split(',').map((a) => a.trim()) ?? [],
    alertFailedThreshold: e.HUB_ALERT_FAILED_THRESHOLD,
    notify: {
      recipients: parseNotifyRecipients(e.NOTIFY_RECIPIENTS ?? '*:member') ?? new Map(),
      smsTemplate: e.NOTIFY_SMS_TEMPLATE,
    },
  };
}
