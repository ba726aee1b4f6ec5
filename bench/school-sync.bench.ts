import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { DataSource } from 'typeorm';
import { applyBusinessSchema } from '../entities/schema/apply-business-schema';
import { createDataSource } from '../entities/data-source';
import { migrate } from '../entities/schema/migrate';
import { withServerConnection } from '../entities/schema/mysql-server';
import { NO_INTEGRATIONS } from '../integrations';
import { FEED_START, type FeedPosition } from '../integrations/school-tms/school-tms.client';
import { familyOf } from '../integrations/school-tms/emulator/school-tms.emulator-state';
import { LiveSchoolTmsClient } from '../integrations/school-tms/school-tms.live';
import { familySync } from '../jobs/school/family-sync.job';
import type { SyncCounts } from '../jobs/school/feed-run';
import { auditAt } from '../entities/dms/audit';
import type { Config } from '../lib/config';
import type { JobContext } from '../jobs/context';
import { createLogger } from '../lib/logger';
import { closeRedis, createRedis, waitForRedis } from '../lib/redis';
import { createEnqueue } from '../workers/enqueue';
import { QueueSet } from '../workers/queues';
import { withDatabase } from './bench-database';
import type { SchoolEmulatorArgs, SchoolEmulatorInfo } from './school-emulator.process';
import type { BenchRow } from './table';

/**
 * family-sync's nightly run over 200,000 students served by the school system's emulator in its own
 * process (pages of 500, over HTTP), against reading the same feed without writing; then 1 % of the
 * students change and a second incremental run reads and writes only them (and the overlap).
 */

const STUDENTS = 200_000;
/** Every n-th student changes before the second run: 1 %. */
const TOUCH_EVERY = 100;
const PAGE = 500;
const DATABASE = 'jobhub_bench_school';
const CLIENT = { clientId: 'jobhub-bench', clientSecret: 'bench-school-client-secret' };
const DAY_MS = 86_400_000;

const pad = (n: number, width: number): string => String(n).padStart(width, '0');

/** One member per family found by the mother's mobile, and one by the father's ZYEDU id where there is a father. */
async function loadMembers(db: DataSource): Promise<number> {
  const families = [...new Set(Array.from({ length: STUDENTS }, (_, i) => familyOf(i)))];
  const rows: [string | null, string | null][] = families.flatMap((f) => {
    const mother: [string | null, string | null] = [`139${pad(f, 8)}`, null];
    return f % 2 === 0 ? [mother, [null, String(8_000_000_000 + f)] as [string | null, string | null]] : [mother];
  });
  for (let i = 0; i < rows.length; i += 5_000) {
    const chunk = rows.slice(i, i + 5_000);
    await db.query(`INSERT INTO member (mobile, zy_member_info, deleted) VALUES ${chunk.map(() => '(?, ?, 0)').join(', ')}`, chunk.flat());
  }
  // Children rows expected: every student once for the mother, once more where the family has a father.
  return Array.from({ length: STUDENTS }, (_, i) => (familyOf(i) % 2 === 0 ? 2 : 1)).reduce((a, b) => a + b, 0);
}

/** The emulator's process; each request is answered by one line on its stdout. */
async function startEmulator(args: SchoolEmulatorArgs): Promise<{ info: SchoolEmulatorInfo; touch(every: number): Promise<number>; stop(): void }> {
  const child = spawn(process.execPath, [join(__dirname, 'school-emulator.process.js'), JSON.stringify(args)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const replies = createInterface({ input: child.stdout });
  // The listener is in place before the request goes out: readline drops lines nobody listens to.
  const reply = (request?: string): Promise<string> =>
    new Promise((resolve, reject) => {
      const exited = (): void => reject(new Error('the school emulator process exited'));
      child.once('exit', exited);
      replies.once('line', (line: string) => {
        child.off('exit', exited);
        resolve(line);
      });
      if (request) child.stdin.write(`${request}\n`);
    });
  const info = JSON.parse(await reply()) as SchoolEmulatorInfo;
  return {
    info,
    touch: async (every) => (JSON.parse(await reply(`touch ${every}`)) as { changed: number }).changed,
    stop: () => void child.stdin.end(),
  };
}

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await work();
  return { value, ms: performance.now() - started };
}

export async function benchSchoolSync(config: Config): Promise<BenchRow[]> {
  const benchConfig = withDatabase(config, DATABASE);
  const log = createLogger({ level: 'warn' });
  await withServerConnection(config.mysql, (conn) => conn.query(`DROP DATABASE IF EXISTS \`${DATABASE}\``));
  await applyBusinessSchema(benchConfig, log);
  await migrate(benchConfig, log);
  const db = await createDataSource(benchConfig);
  const now = Date.now();
  const emulator = await startEmulator({ ...CLIENT, students: STUDENTS, fromMs: now - 30 * DAY_MS, toMs: now - 3_600_000 });
  const redis = createRedis(config.redis, 'producer', 'jobhub-bench');
  const queues = new QueueSet(redis, `jobhub-bench-school-${process.pid}`);
  try {
    await waitForRedis(redis);
    const expectedRows = await loadMembers(db);
    const client = new LiveSchoolTmsClient({ baseUrl: emulator.info.baseUrl, ...CLIENT, timeoutMs: 30_000 });
    const ctx: JobContext = {
      config: { ...benchConfig, schoolTms: { ...benchConfig.schoolTms, pageSize: PAGE } }, db, redis, log, integrations: { ...NO_INTEGRATIONS, schoolTms: client },
      job: { id: 'bench', name: familySync.name, attempt: 1 },
      enqueue: createEnqueue(queues), progress: () => Promise.resolve(), audit: auditAt(() => new Date()), now: () => new Date(), signal: new AbortController().signal,
    };
    const runSync = async (): Promise<SyncCounts> => {
      const run = await familySync.handle(familySync.payload.parse({}), ctx);
      if (run.status !== 'done') throw new Error(`family-sync ${run.status}`);
      return run.result;
    };

    const read = await timed(async () => {
      let records = 0;
      for (let position: FeedPosition | null = FEED_START; position; ) {
        const page = await client.students(position, PAGE);
        records += page.items.length;
        position = page.next;
      }
      return records;
    });
    const first = await timed(runSync);
    const [rows] = (await db.query(`SELECT COUNT(*) AS n FROM family_members WHERE deleted = 0`)) as { n: string }[];
    if (Number(rows?.n) !== expectedRows || first.value.inserted !== expectedRows) {
      throw new Error(`family-sync wrote ${rows?.n} rows (${first.value.inserted} inserted), expected ${expectedRows}`);
    }
    const changed = await emulator.touch(TOUCH_EVERY);
    const second = await timed(runSync);
    const perS = (n: number, ms: number): number => (n / ms) * 1_000;
    return [
      {
        scenario: `family-sync, nightly: ${STUDENTS.toLocaleString('en-US')} students from the emulator in its own process, pages of ${PAGE}`,
        unit: 'students/s',
        baseline: { label: 'reading the feed only', value: perS(read.value, read.ms) },
        ours: { label: 'family-sync (reads + writes)', value: perS(STUDENTS, first.ms) },
        notes: `first run ${(first.ms / 1_000).toFixed(1)} s, ${first.value.inserted.toLocaleString('en-US')} family_members rows inserted for ${expectedRows.toLocaleString('en-US')} expected; reading alone ${(read.ms / 1_000).toFixed(1)} s`,
      },
      {
        scenario: `second incremental run after ${changed.toLocaleString('en-US')} students (1 %) changed: time ≤ 5 % of the first (ratio first/second ≥ 20)`,
        unit: 'ms',
        baseline: { label: 'first run', value: first.ms },
        ours: { label: 'second run', value: second.ms },
        ratio: first.ms / second.ms,
        targetRatio: 20,
        notes: `second run ${Math.round(second.ms)} ms = ${((100 * second.ms) / first.ms).toFixed(2)} % of the first: ${JSON.stringify(second.value)}`,
      },
    ];
  } finally {
    emulator.stop();
    await queues.close();
    await closeRedis(redis);
    await db.destroy();
    await withServerConnection(config.mysql, (conn) => conn.query(`DROP DATABASE IF EXISTS \`${DATABASE}\``));
  }
}
