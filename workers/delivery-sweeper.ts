import { HubMessageDelivery, type DeliveryChannel } from '../entities/hub/hub-message-delivery.entity';
import { deliveryJobId } from '../jobs/messaging/delivery';
import type { QueueName } from '../lib/queue-names';
import { jobRowSweeper } from './job-row-sweeper';
import type { Sweeper } from './sweeper';

interface DeliveryRow {
  id: string;
  deliveryKey: string;
  jobName: string;
  jobId: string | null;
  payload: unknown;
}

/**
 * hub_message_delivery rows still owed (PENDING) or left mid-call (SENDING), older than a sweep
 * period, whose job Redis no longer holds or holds as failed: the job is added again from the row's
 * name and payload under the delivery's own id, and the row is pointed at it. The job then sends a
 * PENDING message once, or settles a SENDING one as UNKNOWN: never twice.
 */
function deliverySweeper(queue: QueueName, channels: readonly DeliveryChannel[]): Sweeper {
  return jobRowSweeper<DeliveryRow>({
    name: `message-delivery-${queue}`,
    queue,
    list: ({ db, now, periodMs }, afterId, limit) =>
      db
        .createQueryBuilder(HubMessageDelivery, 'd')
        .select(['d.id AS id', 'd.delivery_key AS deliveryKey', 'd.job_name AS jobName', 'd.job_id AS jobId', 'd.payload AS payload'])
        .where("d.status IN ('PENDING', 'SENDING') AND d.channel IN (:...channels) AND d.id > :afterId AND d.updated_time < :before", {
          channels,
          afterId: BigInt(afterId),
          before: new Date(now().getTime() - periodMs),
        })
        .orderBy('d.id', 'ASC')
        .limit(limit)
        .getRawMany<DeliveryRow>(),
    jobId: (row) => row.jobId ?? deliveryJobId(row.deliveryKey),
    async add(enqueue, row, { db, registry, log, now }) {
      const def = registry.get(row.jobName);
      if (!def) {
        log.error({ deliveryKey: row.deliveryKey, jobName: row.jobName }, 'delivery names no job of this hub: left for ops');
        return;
      }
      const jobId = deliveryJobId(row.deliveryKey);
      const payload: unknown = typeof row.payload === 'string' ? JSON.parse(row.payload) : row.payload;
      await enqueue(def, payload, { jobId });
      if (row.jobId !== jobId) await db.getRepository(HubMessageDelivery).update({ id: row.id }, { jobId, updatedTime: now() });
    },
  });
}

/** One per message queue: the job-state checks look in the queue the row's job runs on. */
export const DELIVERY_SWEEPERS: readonly Sweeper[] = [
  deliverySweeper('sms', ['sms']),
  deliverySweeper('wechat-messages', ['wechat-template', 'wechat-subscribe']),
  deliverySweeper('email', ['email']),
];
