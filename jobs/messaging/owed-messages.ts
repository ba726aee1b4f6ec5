import type { EntityManager } from 'typeorm';
import type { z } from 'zod';
import type { DeliveryChannel } from '../../entities/hub/hub-message-delivery.entity';
import type { JobContext } from '../context';
import type { JobDefinition } from '../define-job';
import { deliveryJobId, recordDelivery } from './delivery';

/**
 * A message a batch job owes (a success notice, a reminder): its delivery row is recorded in the
 * job's transaction, so once the effect commits the message is owed even if the enqueue is lost
 * (the delivery sweeper enqueues PENDING rows again). The key makes it one message per key, ever.
 */
export interface OwedMessage<S extends z.ZodType = z.ZodType> {
  key: string;
  channel: DeliveryChannel;
  recipient: string;
  job: JobDefinition<S>;
  /** The send job's payload; `deliveryKey` is set from `key`. */
  payload: z.input<S>;
  recordId?: string | null;
  notifyId?: string | null;
}

/** Records each message PENDING unless its key exists; returns the ones this call recorded (to enqueue after commit). */
export async function recordOwedMessages(manager: EntityManager, messages: readonly OwedMessage[], now: Date): Promise<OwedMessage[]> {
  const fresh: OwedMessage[] = [];
  for (const m of messages) {
    const payload = { ...(m.payload as Record<string, unknown>), deliveryKey: m.key };
    const isNew = await recordDelivery(
      manager,
      { key: m.key, channel: m.channel, recipient: m.recipient, jobName: m.job.name, payload, recordId: m.recordId ?? null, notifyId: m.notifyId ?? null, jobId: deliveryJobId(m.key) },
      now,
    );
    if (isNew) fresh.push(m);
  }
  return fresh;
}

/** Enqueues recorded messages under their deterministic job ids; a failed enqueue is left to the sweeper. Returns how many were enqueued. */
export async function enqueueOwedMessages(ctx: Pick<JobContext, 'enqueue' | 'log'>, messages: readonly OwedMessage[]): Promise<number> {
  let enqueued = 0;
  for (const m of messages) {
    try {
      await ctx.enqueue(m.job, { ...(m.payload as Record<string, unknown>), deliveryKey: m.key }, { jobId: deliveryJobId(m.key) });
      enqueued += 1;
    } catch (err) {
      ctx.log.warn({ err, deliveryKey: m.key }, 'message enqueue failed: the delivery sweeper will enqueue it');
    }
  }
  return enqueued;
}
