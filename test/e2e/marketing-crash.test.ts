import type { QueueEvents } from 'bullmq';
import type { DataSource } from 'typeorm';
import { DiscountCouponCode } from '../../entities/marketing/discount-coupon-code.entity';
import { DmsBusinessLog } from '../../entities/dms/dms-business-log.entity';
import { HubCursor } from '../../entities/hub/hub-cursor.entity';
import { HubShareFirstReach } from '../../entities/hub/hub-share-first-reach.entity';
import { HubShareFirstReferral } from '../../entities/hub/hub-share-first-referral.entity';
import { HubShareResource } from '../../entities/hub/hub-share-resource.entity';
import { Member } from '../../entities/marketing/member.entity';
import { MemberChildInfo } from '../../entities/marketing/member-child-info.entity';
import { ResourceShareInfo } from '../../entities/marketing/resource-share-info.entity';
import { ShareTracking } from '../../entities/marketing/share-tracking.entity';
import { couponExpire } from '../../jobs/marketing/coupon/coupon-expire.job';
import type { JobDefinition } from '../../jobs/define-job';
import { SHARE_CURSOR } from '../../jobs/marketing/share/share-fold';
import { shareAggregate } from '../../jobs/marketing/share/share-aggregate.job';
import { shareRebuild } from '../../jobs/marketing/share/share-rebuild.job';
import { createEnqueue } from '../../workers/enqueue';
import type { QueueSet } from '../../workers/queues';
import { childEnv } from '../support/env';
import { openProcessHarness, type ProcessHarness } from '../support/process-harness';
import { spawnBuilt, type HubProcess } from '../support/processes';
import { until } from '../support/wait';

const TABLES = [DiscountCouponCode, DmsBusinessLog, ShareTracking, Member, MemberChildInfo, ResourceShareInfo, HubShareFirstReach, HubShareFirstReferral, HubShareResource, HubCursor];
const DUE_CODES = 30_000;
const VALID_CODES = 10_000;
const MEMBERS = 2_000;
const SHARE_ROWS = 40_000;

/**
 * A worker process killed (SIGKILL) in the middle of a marketing batch: the batch runs again in
 * another process and ends where one clean run ends, every row changed or counted once.
 */
describe('marketing batches killed mid-run', () => {
  let harness: ProcessHarness;
  let db: DataSource;
  let queues: QueueSet;
  let events: QueueEvents;

  beforeAll(async () => {
    harness = await openProcessHarness(__filename, 'marketing', TABLES);
    ({ db, queues, events } = harness);
  });
  afterAll(() => harness.close());

  /** A short lock, so the killed worker's job is found stalled and run again within seconds. */
  const startWorker = async (): Promise<HubProcess> => {
    const worker = spawnBuilt('workers/worker.main.js', childEnv({ HUB_QUEUE_PREFIX: harness.prefix, HUB_QUEUES: 'marketing', HUB_JOB_LOCK_MS: '2000' }));
    await worker.waitFor(/"msg":"workers started"/, 20_000);
    return worker;
  };
  const count = async (sql: string): Promise<number> => Number(((await db.query(sql)) as { n: string | number }[])[0]?.n ?? 0);

  /** Kills the first worker once `started` holds and `finished` does not, then lets a second worker finish the job. */
  async function killMidRun(def: JobDefinition, payload: object, started: () => Promise<boolean>, finished: () => Promise<boolean>): Promise<unknown> {
    const first = await startWorker();
    const job = await createEnqueue(queues)(def, payload);
    await until('the batch to be under way', started, 20_000, 20);
    first.child.kill('SIGKILL');
    await first.exited();
    expect(await finished()).toBe(false);
    const second = await startWorker();
    try {
      return await (await queues.get('marketing').getJob(job.id))?.waitUntilFinished(events, 60_000);
    } finally {
      second.child.kill('SIGTERM');
      expect(await second.exited()).toBe(0);
    }
  }

  // Two worker processes started per case, tens of thousands of rows written and checked: longer than jest's default.
  it('coupon-expire: every due code ends TIME_OUT, and nothing else changes', async () => {
    await db.query(
      `INSERT INTO discount_coupon_code (code, discount_coupon_id, status, effect_end_time, deleted)
       SELECT CONCAT('K', seq), 1 + seq % 7, IF(seq % 2 = 0, 'UNUSED', 'UNOPEN'), NOW() - INTERVAL 1 DAY, 0 FROM seq_1_to_${DUE_CODES}`,
    );
    await db.query(
      `INSERT INTO discount_coupon_code (code, discount_coupon_id, status, effect_end_time, deleted)
       SELECT CONCAT('V', seq), 1 + seq % 7, IF(seq % 2 = 0, 'UNUSED', 'USED'), IF(seq % 2 = 0, NOW() + INTERVAL 1 DAY, NOW() - INTERVAL 1 DAY), 0 FROM seq_1_to_${VALID_CODES}`,
    );
    const expired = (): Promise<number> => count(`SELECT COUNT(*) n FROM discount_coupon_code WHERE status = 'TIME_OUT'`);
    const result = await killMidRun(couponExpire, { batchSize: 50 }, async () => (await expired()) > 0, async () => (await expired()) === DUE_CODES);
    expect(result).toMatchObject({ status: 'done' });
    expect(await expired()).toBe(DUE_CODES);
    expect(await count(`SELECT COUNT(*) n FROM discount_coupon_code WHERE code LIKE 'K%' AND status <> 'TIME_OUT'`)).toBe(0);
    expect(await count(`SELECT COUNT(*) n FROM discount_coupon_code WHERE code LIKE 'V%' AND status = 'TIME_OUT'`)).toBe(0);
  }, 60_000);

  it('share-aggregate: the counters equal a rebuild from scratch', async () => {
    await db.query(`INSERT INTO member (id, created_time, save_info_time, deleted) SELECT seq, NOW() - INTERVAL (seq % 48) HOUR, IF(seq % 3 = 0, NOW(), NULL), 0 FROM seq_1_to_${MEMBERS}`);
    await db.query(
      `INSERT INTO member_child_info (child_member_id, member_id, resource_id)
       SELECT 1 + CRC32(CONCAT('c', seq)) % ${MEMBERS}, 1 + CRC32(CONCAT('p', seq)) % ${MEMBERS}, CONCAT('r', seq % 50) FROM seq_1_to_${MEMBERS}`,
    );
    await db.query(
      `INSERT INTO share_tracking (member_id, resource_type, resource_id, type, from_member_ids, depth, browse_time, created_time)
       SELECT 1 + CRC32(CONCAT('m', seq)) % ${MEMBERS}, 'ARTICLE', CONCAT('r', CRC32(CONCAT('r', seq)) % 50), IF(seq % 10 < 3, 'SHARE', 'REACH'),
              CONCAT(1 + CRC32(CONCAT('a', seq)) % ${MEMBERS}, ',', 1 + CRC32(CONCAT('b', seq)) % ${MEMBERS}), 1 + seq % 3,
              NOW() - INTERVAL (seq % 7200) SECOND, NOW() - INTERVAL 2 HOUR
       FROM seq_1_to_${SHARE_ROWS}`,
    );
    const lastId = String(await count('SELECT MAX(id) n FROM share_tracking'));
    const cursor = async (): Promise<string> => ((await db.query('SELECT position FROM hub_cursor WHERE name = ?', [SHARE_CURSOR])) as { position: string }[])[0]?.position ?? '0';
    const result = await killMidRun(shareAggregate, { batchSize: 1_000 }, async () => (await cursor()) !== '0', async () => (await cursor()) === lastId);
    expect(result).toMatchObject({ status: 'done' });
    expect(await cursor()).toBe(lastId);

    // A rebuild writes 0 where incremental runs never touched a counter (NULL): the same count.
    const counters = async (): Promise<unknown[]> => [
      await db.query(
        `SELECT id, COALESCE(share_count, 0) s, COALESCE(open_count, 0) o, COALESCE(child_member_total_count, 0) t,
                COALESCE(child_member_uv_count, 0) u, COALESCE(child_member_save_count, 0) v FROM member ORDER BY id`,
      ),
      await db.query(
        `SELECT id, COALESCE(child_member_share_count, 0) s, COALESCE(child_member_open_count, 0) o,
                COALESCE(child_member_count, 0) c, COALESCE(child_member_save_info_count, 0) v FROM member_child_info ORDER BY id`,
      ),
      await db.query('SELECT resource_type, resource_id, share_count, reach_count, uv_count, max_depth FROM resource_share_info ORDER BY resource_type, resource_id'),
    ];
    const afterCrash = await counters();
    expect(await count('SELECT SUM(share_count) + SUM(reach_count) n FROM resource_share_info')).toBe(SHARE_ROWS);

    const worker = await startWorker();
    try {
      const rebuild = await createEnqueue(queues)(shareRebuild, { batchSize: 5_000 });
      expect(await (await queues.get('marketing').getJob(rebuild.id))?.waitUntilFinished(events, 60_000)).toMatchObject({ status: 'done' });
    } finally {
      worker.child.kill('SIGTERM');
      expect(await worker.exited()).toBe(0);
    }
    expect(await counters()).toEqual(afterCrash);
  }, 60_000);
});
