import { WechatPayEmulator } from '../integrations/wechat-pay/emulator/wechat-pay.emulator';
import { runMain } from './run-main';

/**
 * The WeChat Pay emulator in a process of its own, so the bill it generates costs the measured hub
 * process nothing. argv[2]: JSON `{mchid, appid, days: [{date, count, prefix}]}`. Prints one JSON line
 * (base URL and the merchant's credentials, keys as PEM) and serves until its stdin closes.
 */
export interface EmulatorProcessInfo {
  baseUrl: string;
  mchid: string;
  appid: string;
  serialNo: string;
  privateKeyPem: string;
  apiV3Key: string;
  platformKeys: [serial: string, publicKeyPem: string][];
}

export interface EmulatorProcessArgs {
  mchid: string;
  appid: string;
  days: { date: string; count: number; prefix: string }[];
}

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2] ?? '{}') as EmulatorProcessArgs;
  const emulator = await WechatPayEmulator.start();
  const credentials = emulator.addMerchant({ mchid: args.mchid, appid: args.appid, keyMode: 'public_key' });
  for (const day of args.days) emulator.addSyntheticDay({ mchid: args.mchid, ...day });
  const info: EmulatorProcessInfo = {
    baseUrl: emulator.baseUrl,
    mchid: credentials.mchid,
    appid: credentials.appid,
    serialNo: credentials.serialNo,
    privateKeyPem: credentials.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    apiV3Key: credentials.apiV3Key,
    platformKeys: [...credentials.platformKeys].map(([serial, key]) => [serial, key.export({ type: 'spki', format: 'pem' }).toString()]),
  };
  process.stdout.write(`${JSON.stringify(info)}\n`);
  process.stdin.resume();
  await new Promise<void>((resolve) => process.stdin.once('end', resolve).once('close', resolve));
  await emulator.stop();
}

runMain(main);
