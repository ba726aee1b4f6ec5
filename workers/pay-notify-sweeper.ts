import { PayNotifyLog } from '../entities/marketing/pay-notify-log.entity';
import { notifyJobId, wechatPayHandleNotification } from '../jobs/wechat-pay-handle-notification.job';
import { jobRowSweeper } from './job-row-sweeper';

/**
 * pay_notify_log rows verified and still unhandled a sweep period after they arrived, whose job
 * Redis no longer holds (lost, or the route could not enqueue it) or holds as failed: the job is
 * added again as `wechat-notify-<id>`, or retried. WeChat retries a callback only until we answered 204.
 */
export const payNotifySweeper = jobRowSweeper<{ id: string }>({
  name: 'pay-notify',
  queue: wechatPayHandleNotification.queue,
  list: ({ db, now, periodMs }, afterId, limit) =>
    db
      .createQueryBuilder(PayNotifyLog, 'n')
      .select('n.id', 'id')
      // A row younger than a sweep period may still be on its way to Redis, or running.
      .where("n.verified = 1 AND n.handled = 0 AND n.channel = 'WECHAT' AND n.id > :afterId AND n.created_time < :before", {
        afterId: BigInt(afterId),
        before: new Date(now().getTime() - periodMs),
      })
      .orderBy('n.id', 'ASC')
      .limit(limit)
      .getRawMany<{ id: string }>(),
  jobId: (row) => notifyJobId(row.id),
  add: (enqueue, row) => enqueue(wechatPayHandleNotification, { notifyLogId: row.id }, { jobId: notifyJobId(row.id) }),
});
