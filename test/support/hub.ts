import type { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import { registry as defaultRegistry } from '../../jobs';
import type { JobRegistry } from '../../jobs/define-job';
import type { Config } from '../../lib/config';
import type { Enqueue } from '../../jobs/context';
import type { Logger } from '../../lib/logger';
import { closeRedis } from '../../lib/redis';
import { createEnqueue } from '../../workers/enqueue';
import type { QueueName } from '../../lib/queue-names';
import { QueueSet } from '../../workers/queues';
import type { RunnerDeps } from '../../workers/run-job';
import { startWorkers, type WorkerPool, type WorkerPoolOptions } from '../../workers/start-workers';
import { openTestDataSource } from './db';
import { testConfig } from './env';
import { captureLogger } from './logs';
import { deletePrefix, testPrefix, testRedis } from './queues';
import { track } from './resources';
import { openTestWechatPay, type TestWechatPay, type TestWechatPayOptions } from './wechat-pay';
import { NO_INTEGRATIONS, type Integrations } from '../../integrations';
import { openMail } from '../../integrations/mail';
import { openSms } from '../../integrations/sms';
import { openWechatMp } from '../../integrations/wechat-mp';
import { withSchoolTms } from './school-tms';
import type { AppleIntegration } from '../../integrations/apple/apple.client';

export interface TestHub {
  config: Config;
  db: DataSource;
  redis: Redis;
  queues: QueueSet;
  enqueue: Enqueue;
  prefix: string;
  log: Logger;
  logText(): string;
  integrations: Integrations;
  /** Present when opened with the `wechatPay` option. */
  wechatPay?: TestWechatPay;
  /** Real workers on this hub's prefix; `options` sets the lock and watchdog timings. */
  startWorkers(queues: QueueName[], options?: TestWorkerOptions): WorkerPool;
  close(): Promise<void>;
}

export interface TestHubOptions {
  registry?: JobRegistry;
  now?: () => Date;
  /** Another database of the same server (a scratch copy a test may damage); this worker's by default. */
  mysqlUrl?: string;
  /** Starts the WeChat Pay emulator and points the hub's client at it. */
  wechatPay?: TestWechatPayOptions;
  /**
   * Starts the SMS (Aliyun, Tencent), WeChat messages and SMTP emulators as `*_MODE=emulator` does,
   * and points the hub's clients at them (`hub.integrations.emulators`). Receipts are pushed nowhere
   * until a test sets a URL.
   */
  messaging?: boolean;
  /** Starts the school system's emulator and points the hub's client at it (`hub.integrations.emulators.schoolTms`). */
  schoolTms?: boolean;
  /** More environment for the hub's configuration (OPS_EMAILS, thresholds, …). */
  env?: Record<string, string>;
  /** The App Store integration jobs use (test/support/apple.ts builds one against the emulator). */
  apple?: AppleIntegration;
}

/** Lock and watchdog timings, and the schema guard a worker process would pass. */
export type TestWorkerOptions = Pick<WorkerPoolOptions, 'lockMs' | 'watchdogMs'> & { schema?: RunnerDeps['schema'] };

/** The real pieces of a worker process (data source, producer, queues, workers) on a per-file prefix. */
export async function openTestHub(file: string, options: TestHubOptions = {}): Promise<TestHub> {
  const prefix = testPrefix(file);
  const config = testConfig({ ...options.env, HUB_QUEUE_PREFIX: prefix, ...(options.mysqlUrl ? { MYSQL_URL: options.mysqlUrl } : {}) });
  const db = await openTestDataSource(config);
  const redis = await testRedis('producer');
  const queues = new QueueSet(redis, prefix);
  const { log, text } = captureLogger('debug');
  const enqueue = createEnqueue(queues);
  const pools: WorkerPool[] = [];
  const wechatPay = options.wechatPay ? await openTestWechatPay(db, log, options.wechatPay) : undefined;
  const base = wechatPay?.integrations ?? NO_INTEGRATIONS;
  const messaging = await withMessaging(options.apple ? { ...base, apple: options.apple } : base, options.messaging === true, { config, db, redis, log });
  const integrations = await withSchoolTms(messaging, options.schoolTms === true, { config, log });
  return {
    config,
    db,
    redis,
    queues,
    enqueue,
    prefix,
    log,
    logText: text,
    integrations,
    wechatPay,
    startWorkers(names, { schema, ...timings } = {}) {
      const connection = track({ kind: 'redis', value: redis.duplicate({ maxRetriesPerRequest: null, enableOfflineQueue: true }) });
      const pool = startWorkers(
        { config, db, redis, log, registry: options.registry ?? defaultRegistry, enqueue, integrations, queues, now: options.now ?? (() => new Date()), schema },
        { queues: names, connection, keys: prefix, ...timings },
      );
      for (const w of pool.workers) track({ kind: 'worker', value: w });
      const closable: WorkerPool = {
        get workers() {
          return pool.workers;
        },
        readiness: pool.readiness,
        async close(graceMs) {
          await pool.close(graceMs);
          await closeRedis(connection);
        },
      };
      pools.push(closable);
      return closable;
    },
    async close() {
      await Promise.all(pools.map((p) => p.close()));
      await integrations.close();
      await queues.close();
      await deletePrefix(redis, prefix);
      await closeRedis(redis);
      await db.destroy();
    },
  };
}

/** The hub's integrations with the messaging emulators added, when asked for. */
async function withMessaging(base: Integrations, wanted: boolean, deps: { config: Config; db: DataSource; redis: Redis; log: Logger }): Promise<Integrations> {
  if (!wanted) return base;
  const sms = await openSms(deps.config, deps.db, deps.log);
  const wechatMp = await openWechatMp(deps.config, deps.db, deps.redis, deps.log);
  const mail = await openMail(deps.config.messaging.mail, deps.log);
  let open = true;
  track({ kind: 'closable', value: { isOpen: () => open }, label: 'messaging emulators' });
  sms.emulators.aliyunSms?.setReceiptUrl(undefined);
  sms.emulators.tencentSms?.setReceiptUrl(undefined);
  return {
    ...base,
    sms: sms.client,
    wechatMp: wechatMp.client,
    mail: mail.client,
    emulators: { ...base.emulators, ...sms.emulators, ...wechatMp.emulators, ...mail.emulators },
    async close() {
      open = false;
      await Promise.all([sms.close(), wechatMp.close(), mail.close()]);
      await base.close();
    },
  };
}
