import pino from 'pino';
import { createDataSource } from '../entities/data-source';
import { NO_INTEGRATIONS, type Integrations } from '../integrations';
import { AliyunSmsClient } from '../integrations/sms/aliyun-sms.live';
import { smsProviders } from '../integrations/sms/sms.providers';
import { TencentSmsClient } from '../integrations/sms/tencent-sms.live';
import { registry } from '../jobs';
import { loadConfigOrExit, type Config } from '../lib/config';
import { createLogger } from '../lib/logger';
import { closeRedis, createRedis, waitForRedis } from '../lib/redis';
import { createEnqueue } from '../workers/enqueue';
import { QueueSet } from '../workers/queues';
import { startWorkers } from '../workers/start-workers';
import { withDatabase } from './bench-database';
import type { SmsEmulatorInfo } from './sms-emulator.process';
import { runMain } from './run-main';

/**
 * One worker process of the SMS bench, as a deployment runs several: the `sms` queue's pool with
 * the real job, the SMS clients pointed at the emulator process. argv[2]: JSON {@link SmsWorkerArgs}.
 * Prints `ready` once its workers run, and stops (workers closed) when its stdin closes.
 */
export interface SmsWorkerArgs {
  database: string;
  prefix: string;
  ratePerSecond: number;
  logFile: string;
  emulators: SmsEmulatorInfo;
}

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2] ?? '{}') as SmsWorkerArgs;
  const base = withDatabase(loadConfigOrExit(), args.database);
  const config: Config = { ...base, redis: { ...base.redis, queuePrefix: args.prefix }, messaging: { ...base.messaging, sms: { ...base.messaging.sms, ratePerSecond: args.ratePerSecond } } };
  const log = createLogger({ level: 'info', destination: pino.destination({ dest: args.logFile, sync: false }) });
  const db = await createDataSource(config);
  const redis = createRedis(config.redis, 'producer', 'jobhub-bench');
  await waitForRedis(redis);
  const connection = createRedis(config.redis, 'worker', 'jobhub-bench');
  const queues = new QueueSet(redis, args.prefix);
  const { aliyun, tencent } = args.emulators;
  const timeoutMs = 10_000;
  const sms = smsProviders(
    [
      new AliyunSmsClient({ endpoint: aliyun.baseUrl, accessKeyId: aliyun.accessKeyId, accessKeySecret: aliyun.accessKeySecret, timeoutMs }),
      new TencentSmsClient({ endpoint: tencent.baseUrl, secretId: tencent.secretId, secretKey: tencent.secretKey, sdkAppId: tencent.sdkAppId, region: 'ap-guangzhou', timeoutMs }),
    ],
    null,
  );
  const integrations: Integrations = { ...NO_INTEGRATIONS, sms };
  const pool = startWorkers(
    { config, db, redis, log, registry, enqueue: createEnqueue(queues), integrations, queues, now: () => new Date() },
    { queues: ['sms'], connection, keys: args.prefix },
  );
  process.stdout.write('ready\n');
  process.stdin.resume();
  await new Promise<void>((resolve) => process.stdin.once('end', resolve).once('close', resolve));
  await pool.close();
  await queues.close();
  await closeRedis(connection);
  await closeRedis(redis);
  await db.destroy();
}

runMain(main);
