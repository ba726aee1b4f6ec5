import { AliyunSmsEmulator } from '../integrations/sms/emulator/aliyun-sms.emulator';
import { TencentSmsEmulator } from '../integrations/sms/emulator/tencent-sms.emulator';
import { runMain } from './run-main';

/**
 * The Aliyun and Tencent SMS emulators in a process of their own, as the vendors are remote: their
 * work costs the measured hub process nothing. argv[2]: JSON of the template to approve. Prints one
 * JSON line (addresses and credentials), serves until its stdin closes, then prints the ledger
 * (`[phone, sentAt ms]` of every message) as a last line.
 */
export interface SmsEmulatorArgs {
  template: { aliyunCode: string; aliyunText: string; tencentId: string; tencentText: string; sign: string };
}

export interface SmsEmulatorInfo {
  aliyun: { baseUrl: string; accessKeyId: string; accessKeySecret: string };
  tencent: { baseUrl: string; secretId: string; secretKey: string; sdkAppId: string };
}

export type SmsLedger = [phone: string, sentAtMs: number][];

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2] ?? '{}') as SmsEmulatorArgs;
  const aliyun = await AliyunSmsEmulator.start();
  const tencent = await TencentSmsEmulator.start();
  aliyun.addTemplate(args.template.aliyunCode, args.template.aliyunText);
  aliyun.addSign(args.template.sign);
  tencent.addTemplate(args.template.tencentId, args.template.tencentText);
  tencent.addSign(args.template.sign);
  const info: SmsEmulatorInfo = {
    aliyun: { baseUrl: aliyun.baseUrl, accessKeyId: aliyun.accessKeyId, accessKeySecret: aliyun.accessKeySecret },
    tencent: { baseUrl: tencent.baseUrl, secretId: tencent.secretId, secretKey: tencent.secretKey, sdkAppId: tencent.sdkAppId },
  };
  process.stdout.write(`${JSON.stringify(info)}\n`);
  process.stdin.resume();
  await new Promise<void>((resolve) => process.stdin.once('end', resolve).once('close', resolve));
  const ledger: SmsLedger = [...aliyun.messages, ...tencent.messages].map((m) => [m.phone, m.sentAt.getTime()]);
  await Promise.all([aliyun.stop(), tencent.stop()]);
  // A pipe is written asynchronously: exiting before the write is flushed would cut the ledger short.
  await new Promise<void>((resolve) => process.stdout.write(`${JSON.stringify(ledger)}\n`, () => resolve()));
}

runMain(main);
