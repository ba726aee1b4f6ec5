import type { DataSource } from 'typeorm';
import { NO_INTEGRATIONS } from '../integrations';
import { groupBuyCloseTeams } from '../jobs/marketing/group-buy/group-buy-close-teams.job';
import { auditAt } from '../entities/dms/audit';
import type { Config } from '../lib/config';
import type { JobContext } from '../jobs/context';
import { createLogger } from '../lib/logger';
import { closeRedis, createRedis, waitForRedis } from '../lib/redis';
import { createEnqueue } from '../workers/enqueue';
import { QueueSet } from '../workers/queues';
import { openComparedDatabases, withDatabase } from './bench-database';
import type { BenchRow } from './table';

/**
 * group-buy-close-teams over 100,000 expired teams (3 orders each: a member's, a robot's and an
 * unpaid one; every tenth team's member paid, so 10,000 refunds are requested: refund_order rows
 * written and refund-submit enqueued in Redis, never run), 10,000 teams not yet expired, 100 events
 * (half past end_time). The figure is teams/s of the whole run; the baseline one set-based UPDATE
 * of the same teams to FAILED on a copy, for scale only: it cancels no order and refunds nothing.
 */
const EXPIRED = 100_000;
const OPEN = 10_000;
const PAID_EVERY = 10;
const OURS = 'jobhub_bench_groupbuy';
const BASELINE = 'jobhub_bench_groupbuy_base';
const NOW = new Date(Math.floor(Date.now() / 1_000) * 1_000);

const FILL = [
  `INSERT INTO group_buy_event (id, titile, enable, status, end_time, created_time, updated_time, deleted)
   SELECT s.seq, CONCAT('拼团 #', s.seq), 1, 'OPEN', IF(s.seq % 2 = 0, ? - INTERVAL 1 DAY, ? + INTERVAL 7 DAY), ?, ?, 0 FROM seq_1_to_100 s`,
  `INSERT INTO group_buy_event_rule (group_buy_event_id, team_size, robot_enabled, robot_fill_minutes_before_expire, max_robots_per_team, refund_on_fail, deleted)
   SELECT s.seq, 5, 1, 30, 2, 1, 0 FROM seq_1_to_100 s`,
  `INSERT INTO group_buy_event_team (id, group_buy_event_id, size, joined_count, robot_count, status, expire_time, created_time, updated_time, deleted)
   SELECT s.seq, 1 + s.seq % 100, 5, 3, 1, 'OPEN', IF(s.seq <= ${EXPIRED}, ? - INTERVAL (s.seq % 3600) SECOND, ? + INTERVAL 1 HOUR), ?, ?, 0
   FROM seq_1_to_${EXPIRED + OPEN} s`,
  `INSERT INTO payment_order (id, business_type, mchid, out_trade_no, amount, pay_status, success_time, created_time, updated_time)
   SELECT s.seq, 'GROUP_BUY', '1900000001', CONCAT('GB', LPAD(s.seq, 12, '0')), 9900, 'PAY_SUCCESS', ? - INTERVAL 1 DAY, ? - INTERVAL 1 DAY, ? - INTERVAL 1 DAY
   FROM seq_1_to_${EXPIRED + OPEN} s WHERE s.seq % ${PAID_EVERY} = 0`,
  `INSERT INTO group_buy_event_order (id, group_buy_event_id, group_buy_event_team_id, member_id, member_mobile, status, pament_status, payment_order_id, robot, team_leader, charged_amount, created_time, updated_time)
   SELECT 3 * s.seq - 2 + k.seq, 1 + s.seq % 100, s.seq,
     IF(k.seq = 1, NULL, 100000 + 3 * s.seq + k.seq), IF(k.seq = 1, NULL, '13800000000'),
     IF(k.seq = 2, 'WAITING_PAY', 'JOINED'),
     CASE WHEN k.seq = 1 THEN 'NONE' WHEN k.seq = 0 AND s.seq % ${PAID_EVERY} = 0 THEN 'PAY_SUCCESS' ELSE 'UNPAID' END,
     IF(k.seq = 0 AND s.seq % ${PAID_EVERY} = 0, s.seq, NULL), IF(k.seq = 1, 1, 0), IF(k.seq = 0, 1, 0), 9900, ?, ?
   FROM seq_1_to_${EXPIRED + OPEN} s JOIN seq_0_to_2 k`,
];

function prepare(config: Config): Promise<DataSource> {
  return openComparedDatabases(config, { ours: OURS, baseline: BASELINE }, ['group_buy_event_team'], async (db) => {
    for (const sql of FILL) await db.query(sql, Array.from({ length: (sql.match(/\?/g) ?? []).length }, () => NOW));
  });
}

const count = async (db: DataSource, sql: string): Promise<number> => Number((await db.query<{ n: string }[]>(sql))[0]?.n ?? 0);

export async function benchGroupBuyClose(config: Config): Promise<BenchRow[]> {
  const benchConfig = withDatabase(config, OURS);
  const db = await prepare(config);
  const redis = createRedis(config.redis, 'producer', 'jobhub-bench');
  const queues = new QueueSet(redis, `jobhub-bench-groupbuy-${process.pid}`);
  try {
    await waitForRedis(redis);
    let started = performance.now();
    const base = await db.query<{ affectedRows: number }>(
      `UPDATE \`${BASELINE}\`.group_buy_event_team SET status = 'FAILED', closed_time = ?, updated_time = ? WHERE status = 'OPEN' AND expire_time <= ? AND joined_count < size`,
      [NOW, NOW, NOW],
    );
    const baseMs = performance.now() - started;

    const ctx: JobContext = {
      config: benchConfig, db, redis, log: createLogger({ level: 'warn' }), integrations: NO_INTEGRATIONS,
      job: { id: 'bench', name: groupBuyCloseTeams.name, attempt: 1 },
      enqueue: createEnqueue(queues), progress: () => Promise.resolve(), audit: auditAt(() => NOW), now: () => NOW, signal: new AbortController().signal,
    };
    started = performance.now();
    const run = await groupBuyCloseTeams.handle(groupBuyCloseTeams.payload.parse({}), ctx);
    const ms = performance.now() - started;
    if (run.status !== 'done') throw new Error(`group-buy-close-teams ${run.status}`);
    const r = run.result;
    const refunds = await count(db, 'SELECT COUNT(*) AS n FROM refund_order');
    const failed = await count(db, "SELECT COUNT(*) AS n FROM group_buy_event_team WHERE status = 'FAILED'");
    const submits = await queues.get('refunds').getJobCountByTypes('waiting', 'delayed', 'prioritized');
    if (failed !== EXPIRED || base.affectedRows !== EXPIRED || refunds !== EXPIRED / PAID_EVERY || r.refundsRequested !== refunds) {
      throw new Error(`expected ${EXPIRED} teams failed and ${EXPIRED / PAID_EVERY} refunds; got ${failed} (baseline ${base.affectedRows}), ${refunds} refund rows, ${JSON.stringify(r)}`);
    }
    const rate = EXPIRED / (ms / 1_000);
    const baseRate = EXPIRED / (baseMs / 1_000);
    return [
      {
        scenario: `group-buy-close-teams: ${EXPIRED.toLocaleString('en-US')} expired teams of 3 orders, ${refunds.toLocaleString('en-US')} refunds`,
        unit: 'teams/s',
        baseline: { label: 'one UPDATE of the teams only', value: baseRate },
        ours: { label: 'the job, batches of 500, refunds 4 at once', value: rate },
        notes:
          `ours ${Math.round(ms)} ms: ${r.teamsFailed} teams FAILED, ${r.robotOrdersCancelled} robot and ${r.unpaidOrdersCancelled} unpaid orders CANCELLED, ` +
          `${r.refundsRequested} refunds requested (refund_order rows, ${submits} refund-submit jobs enqueued, not run), ${r.eventsClosed} events CLOSED; ` +
          `the UPDATE ran ${Math.round(baseMs)} ms and touched the teams only`,
      },
    ];
  } finally {
    await queues.get('refunds').obliterate({ force: true });
    await queues.close();
    await closeRedis(redis);
    await db.destroy();
  }
}
