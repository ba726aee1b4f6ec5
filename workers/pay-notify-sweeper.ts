import { PayNotifyLog } from '../entities/marketing/pay-notify-log.entity';
import { notifyJobId, wechatPayHandleNotification } from '../jobs/wechat-pay-handle-notification.job';
import { createEnqueue } from './enqueue';
import type { SweepScope, Sweeper } from './sweeper';

/**
 * pay_notify_log rows verified and still unhandled a minute after they arrived, whose job Redis
 * no longer holds (lost, or the route could not enqueue it) or holds as failed: the job is added
 * again as `wechat-notify-<id>`, or retried. WeChat retries a callback only until we answered 204.
 */

const BATCH_SIZE = 500;

type Pending = { id: string };

/** A row younger than a sweep period may still be on its way to Redis, or running. */
function listPending({ db, now, periodMs }: SweepScope, afterId: string): Promise<Pending[]> {
  return db
    .createQueryBuilder(PayNotifyLog, 'n')
    .select('n.id', 'id')
    .where("n.verified = 1 AND n.handled = 0 AND n.channel = 'WECHAT' AND n.id > :afterId AND n.created_time < :before", {
      afterId: BigInt(afterId),
      before: new Date(now().getTime() - periodMs),
    })
    .orderBy('n.id', 'ASC')
    .limit(BATCH_SIZE)
    .getRawMany<Pending>();
}

/** One pipeline: does the job's hash exist, and is it in the failed set. */
async function jobStates({ redis, queues }: SweepScope, rows: readonly Pending[]): Promise<('missing' | 'failed' | 'present')[]> {
  const queue = queues.get(wechatPayHandleNotification.queue);
  const failedKey = queue.toKey('failed');
  const pipeline = redis.pipeline();
  for (const { id } of rows) pipeline.exists(queue.toKey(notifyJobId(id))).zscore(failedKey, notifyJobId(id));
  const replies = await pipeline.exec();
  if (!replies || replies.length !== rows.length * 2) throw new Error('Redis answered the sweep pipeline only in part');
  return rows.map((_, i) => {
    const [existsErr, exists] = replies[i * 2] ?? [];
    const [failedErr, failedScore] = replies[i * 2 + 1] ?? [];
    if (existsErr) throw existsErr;
    if (failedErr) throw failedErr;
    if (exists === 0) return 'missing';
    return failedScore !== null ? 'failed' : 'present';
  });
}

export const payNotifySweeper: Sweeper = {
  name: 'pay-notify',
  everyMs: 60_000,
  async sweep(scope) {
    const enqueue = createEnqueue(scope.queues);
    const queue = scope.queues.get(wechatPayHandleNotification.queue);
    let restored = 0;
    for (let afterId = '0'; !scope.signal.aborted; ) {
      const rows = await listPending(scope, afterId);
      const states = rows.length > 0 ? await jobStates(scope, rows) : [];
      for (const [i, row] of rows.entries()) {
        const jobId = notifyJobId(row.id);
        if (states[i] === 'missing') {
          // Same id: should the route or another pass add it first, BullMQ keeps the one it has.
          await enqueue(wechatPayHandleNotification, { notifyLogId: row.id }, { jobId });
          restored += 1;
        } else if (states[i] === 'failed') {
          const job = await queue.getJob(jobId);
          if (job && (await job.isFailed())) {
            await job.retry('failed');
            restored += 1;
          }
        }
      }
      if (restored > 0) scope.log.debug({ restored }, 'wechat pay notification jobs restored');
      const last = rows.at(-1);
      if (!last || rows.length < BATCH_SIZE) break;
      afterId = last.id;
    }
    return restored;
  },
};
