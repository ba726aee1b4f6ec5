import { z } from 'zod';
import { AppUser } from '../../entities/app/user.entity';
import { Notify, NotifyStatus, NotifyType } from '../../entities/customer-service/notify.entity';
import { HubMessageDelivery } from '../../entities/hub/hub-message-delivery.entity';
import { Member } from '../../entities/marketing/member.entity';
import type { JobContext } from '../context';
import { defineJob, done } from '../define-job';
import { emailIdOf, emailSend } from './email-send.job';
import { deliveryJobId, recordDelivery } from './delivery';
import { resolveNotifyRecipients, type NotifyTarget, type PendingNotify } from './notify-recipients';
import { smsIdFor, smsSend } from './sms-send.job';
import { pagesById } from '../../lib/pages-by-id';

type Send =
  | { key: string; row: PendingNotify; channel: 'email'; recipient: string; payload: z.input<typeof emailSend.payload> & { deliveryKey: string } }
  | { key: string; row: PendingNotify; channel: 'sms'; recipient: string; payload: z.input<typeof smsSend.payload> & { deliveryKey: string } };

interface Counts {
  inApp: number;
  email: number;
  sms: number;
  unresolved: number;
}

/** The job's message for one target, or why the message could never be sent (the send job's own schema decides). */
function sendOf(target: NotifyTarget, smsTemplate: string): Send | string {
  const { row } = target;
  const key = `notify-${row.notifyId}`;
  if (target.channel === 'email') {
    const payload = { deliveryKey: key, to: [target.address], subject: row.title, text: row.content };
    const check = emailSend.payload.safeParse(payload);
    return check.success ? { key, row, channel: 'email', recipient: target.address, payload } : `not sendable by e-mail: ${check.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`;
  }
  const payload = { deliveryKey: key, phone: target.phone, templateKey: smsTemplate, params: { title: row.title, content: row.content } };
  const check = smsSend.payload.safeParse(payload);
  return check.success ? { key, row, channel: 'sms', recipient: target.phone, payload } : `not sendable by SMS: ${check.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`;
}

async function pendingBatch(ctx: JobContext, afterId: bigint, batchSize: number): Promise<PendingNotify[]> {
  const rows = await ctx.db
    .createQueryBuilder(Notify, 'n')
    .leftJoin(HubMessageDelivery, 'd', "d.delivery_key = CONCAT('notify-', n.notify_id)")
    .select('n.id', 'id')
    .addSelect('n.notify_id', 'notifyId')
    .addSelect('n.project_id', 'projectId')
    .addSelect('n.user_id', 'userId')
    .addSelect('n.type', 'type')
    .addSelect('n.title', 'title')
    .addSelect('n.content', 'content')
    .where('n.id > :afterId AND n.status = :pending AND d.id IS NULL', { afterId, pending: NotifyStatus.PENDING })
    .orderBy('n.id', 'ASC')
    .limit(batchSize)
    .getRawMany<{ id: string | number; notifyId: string; projectId: string; userId: string; type: string | number | null; title: string; content: string }>();
  return rows.map((r) => ({ ...r, id: String(r.id), type: r.type === null ? null : Number(r.type) }));
}

async function settleRows(ctx: JobContext, ids: readonly string[], set: Partial<Notify>): Promise<number> {
  if (ids.length === 0) return 0;
  const result = await ctx.db
    .createQueryBuilder()
    .update(Notify)
    .set({ ...set, updatedAt: ctx.now() })
    .where('id IN (:...ids) AND status = :pending', { ids: ids.map(BigInt), pending: NotifyStatus.PENDING })
    .execute();
  return result.affected ?? 0;
}

async function dispatchBatch(ctx: JobContext, batch: readonly PendingNotify[]): Promise<Counts> {
  const now = ctx.now();
  const { smsTemplate, recipients } = ctx.config.messaging.notify;
  const counts: Counts = { inApp: 0, email: 0, sms: 0, unresolved: 0 };
  counts.inApp = await settleRows(ctx, batch.filter((r) => r.type === NotifyType.IN_APP).map((r) => r.id), { status: NotifyStatus.SENT, sendTime: now, errorMsg: null });

  const outside = batch.filter((r) => r.type !== NotifyType.IN_APP);
  const { targets, unresolved } = await resolveNotifyRecipients(ctx.db.manager, outside, recipients);
  const sends: Send[] = [];
  for (const target of targets) {
    const send = sendOf(target, smsTemplate);
    if (typeof send !== 'string') sends.push(send);
    else unresolved.set(send, [...(unresolved.get(send) ?? []), target.row]);
  }
  for (const [reason, rows] of unresolved) counts.unresolved += await settleRows(ctx, rows.map((r) => r.id), { status: NotifyStatus.FAILED, errorMsg: reason });

  // The delivery rows are the record: once committed, the send is owed even if the enqueue below is lost.
  const fresh: Send[] = [];
  await ctx.db.transaction(async (manager) => {
    for (const s of sends) {
      const isNew = await recordDelivery(
        manager,
        {
          key: s.key,
          channel: s.channel,
          recipient: s.recipient,
          jobName: s.channel === 'email' ? emailSend.name : smsSend.name,
          payload: s.payload,
          recordId: s.channel === 'email' ? emailIdOf(s.key) : smsIdFor(s.key),
          notifyId: s.row.notifyId,
          jobId: deliveryJobId(s.key),
        },
        now,
      );
      // Another run recorded it first: that run enqueues it.
      if (isNew) fresh.push(s);
    }
  });
  for (const s of fresh) {
    try {
      if (s.channel === 'email') await ctx.enqueue(emailSend, s.payload, { jobId: deliveryJobId(s.key) });
      else await ctx.enqueue(smsSend, s.payload, { jobId: deliveryJobId(s.key) });
    } catch (err) {
      ctx.log.warn({ err, deliveryKey: s.key }, 'notify enqueue failed: the delivery sweeper will enqueue it');
    }
    counts[s.channel] += 1;
  }
  return counts;
}

/**
 * Pending `notifies` rows → in-app (marked sent here), e-mail (email-send) or SMS (sms-send), in
 * primary-key batches. An e-mail or SMS row gets its delivery row (key `notify-<notify_id>`) and its
 * job; the delivery settles the row when it is sent or refused, so this job never waits for a send.
 * A row already given a delivery is skipped, so runs at once or again send nothing twice.
 */
export const notifyDispatch = defineJob({
  name: 'notify-dispatch',
  queue: 'messages',
  description: 'Send pending notifies rows: in-app at once, e-mail and SMS through their jobs',
  payload: z.strictObject({ batchSize: z.number().int().min(1).max(5_000).default(500) }),
  entities: [Notify, HubMessageDelivery, Member, AppUser],
  options: { attempts: 3, backoff: { type: 'exponential', delay: 10_000, jitter: 0.5 } },
  async handle({ batchSize }, ctx) {
    const total: Counts = { inApp: 0, email: 0, sms: 0, unresolved: 0 };
    let seen = 0;
    const pages = pagesById(batchSize, (afterId) => {
      ctx.signal.throwIfAborted();
      return pendingBatch(ctx, afterId, batchSize);
    });
    for await (const batch of pages) {
      const counts = await dispatchBatch(ctx, batch);
      for (const k of ['inApp', 'email', 'sms', 'unresolved'] as const) total[k] += counts[k];
      seen += batch.length;
      await ctx.progress(seen);
    }
    if (seen > 0) ctx.log.info(total, 'notifications dispatched');
    return done(total);
  },
});
