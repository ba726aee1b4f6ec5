import { PayNotifyLog } from '../entities/marketing/pay-notify-log.entity';
import { appleHandleNotification, appleNotifyJobId } from '../jobs/apple/apple-handle-notification.job';
import { notifyJobId, wechatPayHandleNotification } from '../jobs/wechat-pay/wechat-pay-handle-notification.job';
import { jobRowSweeper } from './job-row-sweeper';

/**
 * pay_notify_log rows verified and still unhandled a sweep period after they arrived, whose job
 * Redis no longer holds (lost, or the route could not enqueue it) or holds as failed: the job is
 * added again as `wechat-notify-<id>` (`apple-notify-<id>` for App Store rows: both on the payments
 * queue), or retried. WeChat and Apple retry a callback only until we answered 2xx.
 */
export const payNotifySweeper = jobRowSweeper<{ id: string; channel: string }>({
  name: 'pay-notify',
  queue: wechatPayHandleNotification.queue,
  list: ({ db, now, periodMs }, afterId, limit) =>
    db
      .createQueryBuilder(PayNotifyLog, 'n')
      .select('n.id', 'id')
      .addSelect('n.channel', 'channel')
      // A row younger than a sweep period may still be on its way to Redis, or running.
      .where("n.verified = 1 AND n.handled = 0 AND n.channel IN ('WECHAT', 'APPLE') AND n.id > :afterId AND n.created_time < :before", {
        afterId: BigInt(afterId),
        before: new Date(now().getTime() - periodMs),
      })
      .orderBy('n.id', 'ASC')
      .limit(limit)
      .getRawMany<{ id: string; channel: string }>(),
  jobId: (row) => (row.channel === 'APPLE' ? appleNotifyJobId(row.id) : notifyJobId(row.id)),
  add: (enqueue, row) =>
    row.channel === 'APPLE'
      ? enqueue(appleHandleNotification, { payNotifyLogId: row.id }, { jobId: appleNotifyJobId(row.id) })
      : enqueue(wechatPayHandleNotification, { notifyLogId: row.id }, { jobId: notifyJobId(row.id) }),
});
