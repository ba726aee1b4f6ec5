import { RefundOrder } from '../entities/marketing/refund-order.entity';
import { enqueueRefundSubmit, refundJobId } from '../jobs/wechat-pay/request-refund';
import { refundSubmit } from '../jobs/wechat-pay/refund-submit.job';
import { jobRowSweeper } from './job-row-sweeper';

/**
 * refund_order rows REFUNDING with no answer from WeChat recorded, older than a sweep period, whose
 * `refund-<out_refund_no>` job Redis no longer holds (flushed, or the API could not enqueue it) or
 * holds as failed (attempts ran out): the job is added again under its id, or retried. The row is
 * the record of the intent; the job only carries it to WeChat, under the same out_refund_no.
 */
export const refundSweeper = jobRowSweeper<{ id: string; outRefundNo: string }>({
  name: 'refund',
  queue: refundSubmit.queue,
  list: ({ db, now, periodMs }, afterId, limit) =>
    db
      .createQueryBuilder(RefundOrder, 'r')
      .select(['r.id AS id', 'r.out_refund_no AS outRefundNo'])
      .where("r.status = 'REFUNDING' AND r.wechat_status IS NULL AND r.id > :afterId AND r.created_time < :before", {
        afterId: BigInt(afterId),
        before: new Date(now().getTime() - periodMs),
      })
      .orderBy('r.id', 'ASC')
      .limit(limit)
      .getRawMany<{ id: string; outRefundNo: string }>(),
  jobId: (row) => refundJobId(row.outRefundNo),
  add: (enqueue, row) => enqueueRefundSubmit(enqueue, row.outRefundNo),
});
