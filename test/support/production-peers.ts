import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppleEmulator } from '../../integrations/apple/emulator/apple.emulator';
import { SmtpEmulator } from '../../integrations/mail/emulator/mail.emulator';
import { SchoolTmsEmulator } from '../../integrations/school-tms/emulator/school-tms.emulator';
import { AliyunSmsEmulator } from '../../integrations/sms/emulator/aliyun-sms.emulator';
import { TencentSmsEmulator } from '../../integrations/sms/emulator/tencent-sms.emulator';
import { WechatMpEmulator } from '../../integrations/wechat-mp/emulator/wechat-mp.emulator';
import { WechatPayEmulator } from '../../integrations/wechat-pay/emulator/wechat-pay.emulator';
import { track } from './resources';

/**
 * The outside systems of a production hub, each an emulator on a loopback port of the test's own
 * process: production refuses `*_MODE=emulator`, so the hub's processes reach them as they would reach
 * WeChat Pay, the SMS vendors, WeChat, the App Store, the school system and an SMTP server, by live
 * settings (addresses, credentials, key files).
 */
export interface ProductionPeers {
  /** Every variable a production process needs for its outside systems (the key files written in `dir`). */
  readonly env: Record<string, string>;
  stop(): Promise<void>;
}

const MCHID = '1900000001';
const APPID = 'wxd678efh567hg6787';
const MP = { appid: 'wx5ea1c0de0f0a0101', secret: 'production-install-mp-secret' };
const MINIAPP = { appid: 'wx5ea1c0de0f0a0102', secret: 'production-install-miniapp-secret' };
const BUNDLE_ID = 'com.example.jobhub.install';
const APP_APPLE_ID = 1_234_567_891;
const SCHOOL_CLIENT = { id: 'jobhub-install', secret: 'production-install-school-secret' };

/** Starts every peer and writes the files production reads (merchant keys, the App Store key and root) into `dir`. */
export async function startProductionPeers(dir: string): Promise<ProductionPeers> {
  const stops: (() => Promise<void>)[] = [];
  const started = <T extends { stop(): Promise<void> }>(label: string, peer: T): T => {
    let open = true;
    stops.push(async () => {
      open = false;
      await peer.stop();
    });
    track({ kind: 'closable', label, value: { isOpen: () => open } });
    return peer;
  };
  const stop = async (): Promise<void> => {
    for (const s of stops.reverse()) await s();
  };
  try {
    const wechatPay = started('wechat pay emulator', await WechatPayEmulator.start());
    wechatPay.addMerchant({ mchid: MCHID, appid: APPID, keyMode: 'public_key' });
    const merchant = wechatPay.writeMerchantFiles(MCHID, dir);
    const aliyun = started('aliyun sms emulator', await AliyunSmsEmulator.start());
    const tencent = started('tencent sms emulator', await TencentSmsEmulator.start());
    const wechatMp = started('wechat mp emulator', await WechatMpEmulator.start());
    wechatMp.addApp(MP);
    wechatMp.addApp(MINIAPP);
    const apple = started('apple emulator', await AppleEmulator.start({ bundleId: BUNDLE_ID, appAppleId: APP_APPLE_ID }));
    const appleKeyFile = join(dir, 'apple-api-key.p8');
    const appleRootFile = join(dir, 'apple-root.cer');
    writeFileSync(appleKeyFile, apple.apiKey.privateKeyPem);
    writeFileSync(appleRootFile, apple.rootCertificateDer);
    const school = started('school tms emulator', await SchoolTmsEmulator.start());
    school.addClient(SCHOOL_CLIENT.id, SCHOOL_CLIENT.secret);
    const smtp = started('smtp emulator', await SmtpEmulator.start());
    return {
      env: {
        WECHAT_PAY_MODE: 'live',
        WECHAT_PAY_BASE_URL: wechatPay.baseUrl,
        WECHAT_PAY_MCHID: MCHID,
        WECHAT_PAY_APPID: APPID,
        WECHAT_PAY_SERIAL_NO: merchant.serialNo,
        WECHAT_PAY_PRIVATE_KEY_FILE: merchant.privateKeyFile,
        WECHAT_PAY_API_V3_KEY: merchant.apiV3Key,
        WECHAT_PAY_PUBLIC_KEY_ID: merchant.publicKeyId,
        WECHAT_PAY_PUBLIC_KEY_FILE: merchant.publicKeyFile,
        ALIYUN_SMS_ENDPOINT: aliyun.baseUrl,
        ALIYUN_SMS_ACCESS_KEY_ID: aliyun.accessKeyId,
        ALIYUN_SMS_ACCESS_KEY_SECRET: aliyun.accessKeySecret,
        TENCENT_SMS_ENDPOINT: tencent.baseUrl,
        TENCENT_SMS_SECRET_ID: tencent.secretId,
        TENCENT_SMS_SECRET_KEY: tencent.secretKey,
        TENCENT_SMS_SDK_APP_ID: tencent.sdkAppId,
        SMS_RECEIPT_TOKEN: 'production-install-receipt-token',
        WECHAT_MP_BASE_URL: wechatMp.baseUrl,
        WECHAT_MP_APPID: MP.appid,
        WECHAT_MP_SECRET: MP.secret,
        WECHAT_MINIAPP_APPID: MINIAPP.appid,
        WECHAT_MINIAPP_SECRET: MINIAPP.secret,
        APPLE_API_BASE_URL: apple.baseUrl,
        APPLE_BUNDLE_ID: BUNDLE_ID,
        APPLE_APP_APPLE_ID: String(APP_APPLE_ID),
        APPLE_ISSUER_ID: apple.apiKey.issuerId,
        APPLE_KEY_ID: apple.apiKey.keyId,
        APPLE_PRIVATE_KEY_FILE: appleKeyFile,
        APPLE_ROOT_CA_FILES: appleRootFile,
        // The emulator's certificates have no OCSP responder on the network.
        APPLE_ONLINE_CHECKS: 'false',
        SCHOOL_TMS_BASE_URL: school.baseUrl,
        SCHOOL_TMS_CLIENT_ID: SCHOOL_CLIENT.id,
        SCHOOL_TMS_CLIENT_SECRET: SCHOOL_CLIENT.secret,
        SMTP_URL: smtp.url,
        MAIL_FROM: 'jobhub <jobhub@example.com>',
        OPS_EMAILS: 'ops@example.com',
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
