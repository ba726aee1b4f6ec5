import { RefundOrder } from '../entities/marketing/refund-order.entity';
import { enqueueRefundSubmit, refundJobId } from '../jobs/payments/request-refund';
import { refundSubmit } from '../jobs/refund-submit.job';
import { createEnqueue } from './enqueue';
import type { SweepScope, Sweeper } from './sweeper';

/**
 * refund_order rows REFUNDING with no answer from WeChat recorded, older than a sweep period, whose
 * `refund-<out_refund_no>` job Redis no longer holds (flushed, or the API could not enqueue it) or
 * holds as failed (attempts ran out): the job is added again under its id, or retried. The row is
 * the record of the intent; the job only carries it to WeChat, under the same out_refund_no.
 */

const BATCH_SIZE = 500;

type Pending = { id: string; outRefundNo: string };

function listPending({ db, now, periodMs }: SweepScope, afterId: string): Promise<Pending[]> {
  return db
    .createQueryBuilder(RefundOrder, 'r')
    .select(['r.id AS id', 'r.out_refund_no AS outRefundNo'])
    .where("r.status = 'REFUNDING' AND r.wechat_status IS NULL AND r.id > :afterId AND r.created_time < :before", {
      afterId: BigInt(afterId),
      before: new Date(now().getTime() - periodMs),
    })
    .orderBy('r.id', 'ASC')
    .limit(BATCH_SIZE)
    .getRawMany<Pending>();
}

/** One pipeline: does the job's hash exist, and is it in the failed set. */
async function jobStates({ redis, queues }: SweepScope, rows: readonly Pending[]): Promise<('missing' | 'failed' | 'present')[]> {
  const queue = queues.get(refundSubmit.queue);
  const failedKey = queue.toKey('failed');
  const pipeline = redis.pipeline();
  for (const { outRefundNo } of rows) pipeline.exists(queue.toKey(refundJobId(outRefundNo))).zscore(failedKey, refundJobId(outRefundNo));
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

export const refundSweeper: Sweeper = {
  name: 'refund',
  everyMs: 60_000,
  async sweep(scope) {
    const enqueue = createEnqueue(scope.queues);
    const queue = scope.queues.get(refundSubmit.queue);
    let restored = 0;
    for (let afterId = '0'; !scope.signal.aborted; ) {
      const rows = await listPending(scope, afterId);
      const states = rows.length > 0 ? await jobStates(scope, rows) : [];
      for (const [i, row] of rows.entries()) {
        if (states[i] === 'missing') {
          // Same id: should the API or another pass add it first, BullMQ keeps the one it has.
          await enqueueRefundSubmit(enqueue, row.outRefundNo);
          restored += 1;
        } else if (states[i] === 'failed') {
          const job = await queue.getJob(refundJobId(row.outRefundNo));
          if (job && (await job.isFailed())) {
            await job.retry('failed');
            restored += 1;
          }
        }
      }
      if (restored > 0) scope.log.debug({ restored }, 'refund jobs restored');
      const last = rows.at(-1);
      if (!last || rows.length < BATCH_SIZE) break;
      afterId = String(last.id);
    }
    return restored;
  },
};
