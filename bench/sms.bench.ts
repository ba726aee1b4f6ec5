import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { DataSource } from 'typeorm';
import { applyBusinessSchema } from '../entities/schema/apply-business-schema';
import { createDataSource } from '../entities/data-source';
import { HubMessageDelivery } from '../entities/hub/hub-message-delivery.entity';
import { HubSmsTemplate } from '../entities/hub/hub-sms-template.entity';
import { migrate } from '../entities/schema/migrate';
import { withServerConnection } from '../entities/schema/mysql-server';
import { deliveryJobId } from '../jobs/messaging/delivery';
import { smsSend } from '../jobs/messaging/sms-send.job';
import type { Config } from '../lib/config';
import { createLogger, type Logger } from '../lib/logger';
import { closeRedis, createRedis, waitForRedis } from '../lib/redis';
import { QueueSet } from '../workers/queues';
import { withDatabase } from './bench-database';
import type { SmsEmulatorArgs, SmsEmulatorInfo, SmsLedger } from './sms-emulator.process';
import type { SmsWorkerArgs } from './sms-worker.process';
import type { BenchRow } from './table';

const MESSAGES = 20_000;
/** The provider account's limit the `sms` queue is set to. */
const LIMIT_PER_S = 500;
/** Jobs added again under a key already used (another job id): each must send nothing. */
const DUPLICATES = 2_000;
/** Sends with the limit lifted: what the pipeline could do, so the limit, not the hub, sets the pace. */
const HEADROOM_MESSAGES = 5_000;
const DATABASE = 'jobhub_bench_sms';
/**
 * Worker processes sharing the queue and the account's per-second permit, as a deployment scales
 * out: one process's ceiling here is below the limit, so the limit sets the pace only with several.
 */
const WORKER_PROCESSES = 3;
const TEMPLATE = { key: 'bench-otp', aliyun: 'SMS_900000001', tencent: '900001', sign: '基准测试' };

/** 11-digit mainland numbers, one per message, so no per-number frequency rule interferes. */
const phoneOf = (run: string, i: number): string => `13${run}${String(i).padStart(8, '0')}`.slice(0, 11);

async function prepare(config: Config, log: Logger): Promise<DataSource> {
  await withServerConnection(config.mysql, (conn) => conn.query(`DROP DATABASE IF EXISTS \`${DATABASE}\``));
  await applyBusinessSchema(config, log);
  await migrate(config, log);
  const db = await createDataSource(config);
  const now = new Date();
  await db.getRepository(HubSmsTemplate).insert({
    templateKey: TEMPLATE.key, content: '您的验证码是${code}，5分钟内有效。',
    aliyunTemplateCode: TEMPLATE.aliyun, aliyunSignName: TEMPLATE.sign, aliyunParams: { code: 'code' },
    tencentTemplateId: TEMPLATE.tencent, tencentSignName: TEMPLATE.sign, tencentParams: ['code'],
    enabled: 1, createdTime: now, updatedTime: now,
  });
  return db;
}

const EMULATOR_TEMPLATE: SmsEmulatorArgs['template'] = {
  aliyunCode: TEMPLATE.aliyun, aliyunText: '您的验证码是${code}，5分钟内有效。', tencentId: TEMPLATE.tencent, tencentText: '您的验证码是{1}，5分钟内有效。', sign: TEMPLATE.sign,
};

/** Both SMS emulators in a process of their own; `stop` returns their ledger. */
async function startEmulators(): Promise<{ info: SmsEmulatorInfo; stop(): Promise<SmsLedger> }> {
  const args: SmsEmulatorArgs = { template: EMULATOR_TEMPLATE };
  const child = spawn(process.execPath, [join(__dirname, 'sms-emulator.process.js'), JSON.stringify(args)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const first = await lines.next();
  if (first.done) throw new Error('the SMS emulator process exited before it started');
  return {
    info: JSON.parse(first.value) as SmsEmulatorInfo,
    async stop() {
      child.stdin.end();
      const last = await lines.next();
      if (last.done) throw new Error('the SMS emulator process printed no ledger');
      return JSON.parse(last.value) as SmsLedger;
    },
  };
}

interface Run {
  /** Phone and time of every message the emulators accepted. */
  sent: SmsLedger;
  ms: number;
}

/** A worker process of the bench; resolves once its workers run. */
async function startWorkerProcess(args: SmsWorkerArgs): Promise<{ stop(): Promise<void> }> {
  const child = spawn(process.execPath, [join(__dirname, 'sms-worker.process.js'), JSON.stringify(args)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  if ((await lines.next()).value !== 'ready') throw new Error('an SMS bench worker process did not start');
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return {
    async stop() {
      child.stdin.end();
      const code = await exited;
      if (code !== 0) throw new Error(`an SMS bench worker process exited with ${code}`);
    },
  };
}

/**
 * `count` sms-send jobs (plus `duplicates` under keys already used), worked by WORKER_PROCESSES
 * processes sharing the SMS account's per-second permit (`limit`/s), until every delivery is settled.
 */
async function runSends(config: Config, db: DataSource, logDir: string, o: { run: string; count: number; duplicates: number; limit: number }): Promise<Run> {
  const emulators = await startEmulators();
  const redis = createRedis(config.redis, 'producer', 'jobhub-bench');
  await waitForRedis(redis);
  const prefix = `jobhub-bench-sms-${o.run}-${process.pid}`;
  const queues = new QueueSet(redis, prefix);
  const payload = (i: number): { phone: string; templateKey: string; params: { code: string }; deliveryKey: string } => ({
    phone: phoneOf(o.run, i), templateKey: TEMPLATE.key, params: { code: String(100_000 + (i % 900_000)) }, deliveryKey: `bench-${o.run}-${i}`,
  });
  const jobs = [
    ...Array.from({ length: o.count }, (_, i) => ({ name: smsSend.name, data: payload(i), opts: { jobId: deliveryJobId(payload(i).deliveryKey) } })),
    ...Array.from({ length: o.duplicates }, (_, i) => ({ name: smsSend.name, data: payload(i), opts: { jobId: `dup-${o.run}-${i}` } })),
  ];
  const queue = queues.get('sms');
  for (let i = 0; i < jobs.length; i += 1_000) await queue.addBulk(jobs.slice(i, i + 1_000));
  const args = (n: number): SmsWorkerArgs => ({ database: DATABASE, prefix, ratePerSecond: o.limit, logFile: join(logDir, `sms-${o.run}-${n}.log`), emulators: emulators.info });
  const started = performance.now();
  const workers = await Promise.all(Array.from({ length: WORKER_PROCESSES }, (_, n) => startWorkerProcess(args(n))));
  const deliveries = db.getRepository(HubMessageDelivery);
  while ((await deliveries.count({ where: { status: 'SENT' } })) < o.count) await new Promise((resolve) => setTimeout(resolve, 200));
  // Duplicates still queued find their delivery SENT and skip; let them drain before counting.
  while ((await queue.getJobCountByTypes('waiting', 'active', 'delayed', 'prioritized')) > 0) await new Promise((resolve) => setTimeout(resolve, 200));
  const ms = performance.now() - started;
  await Promise.all(workers.map((w) => w.stop()));
  await queues.close();
  for (const key of await redis.keys(`${prefix}:*`)) await redis.del(key);
  await closeRedis(redis);
  await deliveries.clear();
  return { sent: await emulators.stop(), ms };
}

/** Messages per whole second of the emulator's clock, first to last. */
function perSecond(sent: SmsLedger): number[] {
  const seconds = sent.map(([, at]) => Math.floor(at / 1_000));
  const first = Math.min(...seconds);
  const buckets = new Array<number>(Math.max(...seconds) - first + 1).fill(0);
  for (const s of seconds) buckets[s - first] = (buckets[s - first] ?? 0) + 1;
  return buckets;
}

/**
 * 20,000 SMS through sms-send and the provider chain against the emulators, the `sms` queue limited
 * to 500/s (the account's limit), with 2,000 duplicate jobs: the achieved rate against the limit,
 * the busiest second at the emulator, and sends per delivery key. Then 5,000 with the limit lifted,
 * to show what the pipeline itself can do here.
 */
export async function benchSms(base: Config): Promise<BenchRow[]> {
  const config = withDatabase(base, DATABASE);
  const quiet = createLogger({ level: 'warn' });
  const logDir = mkdtempSync(join(tmpdir(), 'jobhub-bench-'));
  const db = await prepare(config, quiet);
  try {
    const limited = await runSends(config, db, logDir, { run: '1', count: MESSAGES, duplicates: DUPLICATES, limit: LIMIT_PER_S });
    const buckets = perSecond(limited.sent);
    // Whole seconds only: the first and last are partial by nature.
    const full = buckets.slice(1, -1);
    const achieved = full.reduce((a, b) => a + b, 0) / Math.max(1, full.length);
    const busiest = Math.max(...buckets);
    const keys = new Set(limited.sent.map(([phone]) => phone.slice(-11)));
    const duplicateSends = limited.sent.length - keys.size;
    if (keys.size !== MESSAGES) throw new Error(`${keys.size} of ${MESSAGES} numbers received their SMS`);

    const open = await runSends(config, db, logDir, { run: '2', count: HEADROOM_MESSAGES, duplicates: 0, limit: 100_000 });
    const openFull = perSecond(open.sent).slice(1, -1);
    const unthrottled = openFull.reduce((a, b) => a + b, 0) / Math.max(1, openFull.length);
    return [
      {
        scenario: `${MESSAGES.toLocaleString('en-US')} SMS through sms-send and the Aliyun→Tencent chain, sms queue limited to ${LIMIT_PER_S}/s`,
        unit: 'SMS/s',
        baseline: { label: 'the provider limit', value: LIMIT_PER_S },
        ours: { label: 'achieved (mean of whole seconds)', value: achieved },
        targetRatio: 0.95,
        notes: `busiest second at the emulator ${busiest} (limit ${LIMIT_PER_S}, ${busiest <= LIMIT_PER_S ? 'within' : 'OVER'}); ${DUPLICATES.toLocaleString('en-US')} duplicate jobs, ${duplicateSends} duplicate sends; ${(limited.ms / 1_000).toFixed(1)} s in all`,
      },
      {
        scenario: `${HEADROOM_MESSAGES.toLocaleString('en-US')} SMS with the limit lifted: what ${WORKER_PROCESSES} worker processes send here`,
        unit: 'SMS/s',
        baseline: { label: 'the provider limit', value: LIMIT_PER_S },
        ours: { label: 'unthrottled (mean of whole seconds)', value: unthrottled },
        notes: `${WORKER_PROCESSES} worker processes with no limit (job, sms row, delivery row, the vendor call, the settle): the ceiling of the row above on this machine`,
      },
    ];
  } finally {
    await db.destroy();
    await withServerConnection(config.mysql, (conn) => conn.query(`DROP DATABASE IF EXISTS \`${DATABASE}\``));
  }
}
