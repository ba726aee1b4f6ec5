import { z } from 'zod';
import { HubAlert } from '../../entities/hub/hub-alert.entity';
import { HubCanary } from '../../entities/hub/hub-canary.entity';
import { HubMessageDelivery } from '../../entities/hub/hub-message-delivery.entity';
import { HubOutbox } from '../../entities/hub/hub-outbox.entity';
import { HubReconciliationBillRow } from '../../entities/hub/hub-reconciliation-bill-row.entity';
import { HubReconciliationRun } from '../../entities/hub/hub-reconciliation-run.entity';
import { defineJob, done } from '../define-job';
import { applyRetention } from './retention';

const days = (fallback: number) => z.number().int().min(1).max(3_650).default(fallback);

/**
 * Deletes the hub's own finished rows past their age, so its tables stop growing: outbox rows DONE
 * or FAILED (30 days), messages SENT or FAILED (90 days: a delivery key reused after that sends
 * again), reconciliation bills staged for runs that ended (35 days; runs and items stay), canary
 * rows (30 days), alerts (90 days: how far back `GET /api/v1/alerts` reaches). Never a row still
 * owed. Run twice, or twice at once, it deletes each row once.
 */
export const hubRetention = defineJob({
  name: 'hub-retention',
  queue: 'ops',
  description: 'Delete the hub\'s finished outbox, delivery, staged bill, canary and alert rows past their age, in primary-key batches',
  payload: z.strictObject({
    outboxDays: days(30),
    deliveryDays: days(90),
    billRowDays: days(35),
    canaryDays: days(30),
    alertDays: days(90),
    batchSize: z.number().int().min(1).max(10_000).default(5_000),
  }),
  entities: [HubOutbox, HubMessageDelivery, HubReconciliationRun, HubReconciliationBillRow, HubCanary, HubAlert],
  options: { attempts: 3, backoff: { type: 'exponential', delay: 60_000, jitter: 0.5 } },
  async handle({ batchSize, ...ages }, ctx) {
    const deleted = await applyRetention(ctx.db, ctx.now(), ages, batchSize, ctx.signal);
    ctx.log.info(deleted, 'hub retention applied');
    return done(deleted);
  },
});
