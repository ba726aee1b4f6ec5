import { createHash } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import { z } from 'zod';
import { Notify } from '../../entities/customer-service/notify.entity';
import { insertIfAbsent, sqlTable } from '../../entities/raw-sql';
import { HubMessageDelivery, type DeliveryChannel } from '../../entities/hub/hub-message-delivery.entity';
import type { JobContext } from '../context';
import { isTransientDatabaseError, OutcomeUnknownError, PermanentError } from '../../lib/errors';
import { messagesDelivered } from '../../lib/metrics';
import { done, skipped, type JobResult } from '../define-job';

/**
 * "Record the intent before the call" for sends that have no idempotency key at the vendor
 * (docs/architecture.md). One row per message under a unique delivery key:
 *   PENDING → SENDING (before the call, by one job only) → SENT | FAILED | UNKNOWN.
 * A retry, a duplicate job or a second worker finds the row and sends nothing more.
 */

export interface DeliveryRequest {
  key: string;
  channel: DeliveryChannel;
  recipient: string;
  jobName: string;
  /** The job's payload, `deliveryKey` included: the sweeper enqueues it again from here. */
  payload: { deliveryKey: string } & Record<string, unknown>;
  recordId?: string | null;
  notifyId?: string | null;
  jobId?: string | null;
}

/** `deliveryKey` as every message job's payload takes it. */
export const DELIVERY_KEY = /^[A-Za-z0-9_.@|=+-]{1,191}$/;
export const deliveryKeyField = z.string().regex(DELIVERY_KEY, 'expected 1–191 characters of A-Z a-z 0-9 _ . @ | = + -');

/** The job id of a delivery: deterministic, so the sweeper and a second request add the same job. */
export function deliveryJobId(key: string): string {
  return `msg-${createHash('sha256').update(key).digest('hex').slice(0, 40)}`;
}

/** The key of a send whose caller gave none: its job's own id, so its retries share it. */
export function jobDeliveryKey(ctx: Pick<JobContext, 'job'>): string {
  return `job-${ctx.job.name}-${ctx.job.id}`;
}

/** Inserts the row PENDING unless the key exists; inside the caller's transaction when given one. Returns whether it was new. */
export async function recordDelivery(manager: EntityManager, req: DeliveryRequest, now: Date): Promise<boolean> {
  const { affectedRows } = await insertIfAbsent(manager, HubMessageDelivery, {
    deliveryKey: req.key,
    channel: req.channel,
    recipient: req.recipient,
    status: 'PENDING',
    jobName: req.jobName,
    jobId: req.jobId ?? null,
    payload: req.payload,
    recordId: req.recordId ?? null,
    notifyId: req.notifyId ?? null,
    createdTime: now,
    updatedTime: now,
  });
  return affectedRows === 1;
}

export type DeliveryClaim =
  /** This job owns the send: the row is SENDING under its id. */
  | { kind: 'send'; delivery: HubMessageDelivery }
  /** SENT, FAILED or UNKNOWN already. */
  | { kind: 'final'; delivery: HubMessageDelivery }
  /** Another job is sending it right now (or died doing so: the sweeper brings that job back). */
  | { kind: 'busy'; delivery: HubMessageDelivery }
  /** This job's own earlier run left it SENDING: it died during the call, which may have gone out. */
  | { kind: 'interrupted'; delivery: HubMessageDelivery };

/** PENDING → SENDING in one statement: of two jobs racing, exactly one gets `send`. */
export async function claimDelivery(ctx: Pick<JobContext, 'db' | 'job' | 'now'>, key: string): Promise<DeliveryClaim> {
  const now = ctx.now();
  const result = await ctx.db
    .createQueryBuilder()
    .update(HubMessageDelivery)
    .set({ status: 'SENDING', attempts: () => 'attempts + 1', sendingTime: now, jobId: ctx.job.id, updatedTime: now })
    .where('delivery_key = :key AND status = :pending', { key, pending: 'PENDING' })
    .execute();
  const delivery = await ctx.db.getRepository(HubMessageDelivery).findOneOrFail({ where: { deliveryKey: key } });
  if (result.affected === 1) return { kind: 'send', delivery };
  if (delivery.status !== 'SENDING') return { kind: 'final', delivery };
  return delivery.jobId === ctx.job.id ? { kind: 'interrupted', delivery } : { kind: 'busy', delivery };
}

export type DeliveryOutcome =
  | { status: 'SENT'; provider: string; providerMessageId: string; detail?: string }
  | { status: 'FAILED'; provider?: string; code: string; error: string }
  | { status: 'UNKNOWN'; provider?: string; error: string };

/**
 * The job's own record of a message (`sms`, `email_records`), settled in the delivery's statement.
 * Build it with `recordRow`, which keeps the entity's property names typed.
 */
export interface RecordRow {
  readonly entity: new () => object;
  /** The property `hub_message_delivery.record_id` names a row by. */
  readonly idProperty: string;
  readonly values: (outcome: DeliveryOutcome, now: Date) => Record<string, unknown>;
  /** Only a row whose property still holds this value changes (a receipt may have settled it first). */
  readonly onlyWhile?: { readonly property: string; readonly value: number };
}

export function recordRow<T extends object>(spec: {
  entity: new () => T;
  idProperty: keyof T & string;
  values: (outcome: DeliveryOutcome, now: Date) => Partial<T>;
  onlyWhile?: { property: keyof T & string; value: number };
}): RecordRow {
  return spec;
}

/**
 * SENDING → final, with the job's record row, in one statement (a multi-table UPDATE: one round
 * trip, one commit); the `notifies` row it settles follows in the caller's transaction. False when
 * the row had left SENDING.
 */
export async function finishDelivery(manager: EntityManager, delivery: HubMessageDelivery, outcome: DeliveryOutcome, now: Date, record?: RecordRow): Promise<boolean> {
  const sent = outcome.status === 'SENT';
  const d = sqlTable(manager, HubMessageDelivery);
  const set: [string, unknown][] = [
    [`d.${d.column('status')}`, outcome.status],
    [`d.${d.column('provider')}`, outcome.provider ?? delivery.provider],
    [`d.${d.column('providerMessageId')}`, sent ? outcome.providerMessageId : delivery.providerMessageId],
    [`d.${d.column('errorCode')}`, outcome.status === 'FAILED' ? outcome.code : outcome.status === 'UNKNOWN' ? 'OUTCOME_UNKNOWN' : null],
    [`d.${d.column('error')}`, sent ? (outcome.detail?.slice(0, 1000) ?? null) : outcome.error.slice(0, 1000)],
    [`d.${d.column('sentTime')}`, sent ? now : null],
    [`d.${d.column('updatedTime')}`, now],
  ];
  let join = '';
  const joinParams: unknown[] = [];
  if (record && delivery.recordId) {
    const r = sqlTable(manager, record.entity);
    join = ` LEFT JOIN ${r.path} r ON r.${r.column(record.idProperty)} = d.${d.column('recordId')}`;
    if (record.onlyWhile) {
      join += ` AND (r.${r.column(record.onlyWhile.property)} = ? OR r.${r.column(record.onlyWhile.property)} IS NULL)`;
      joinParams.push(record.onlyWhile.value);
    }
    for (const [property, value] of Object.entries(record.values(outcome, now))) set.push([`r.${r.column(property)}`, value]);
  }
  const sql = `UPDATE ${d.path} d${join} SET ${set.map(([column]) => `${column} = ?`).join(', ')} WHERE d.${d.column('id')} = ? AND d.${d.column('status')} = 'SENDING'`;
  const result = (await manager.query(sql, [...joinParams, ...set.map(([, value]) => value), delivery.id])) as { affectedRows?: number };
  if (!result.affectedRows) return false;
  messagesDelivered.inc({ channel: delivery.channel, status: outcome.status });
  if (delivery.notifyId) {
    // UNKNOWN leaves the notification pending (status 0) with the reason: ops settle it.
    const settled = outcome.status === 'SENT' ? { status: 1, sendTime: now, errorMsg: null } : outcome.status === 'FAILED' ? { status: 2, errorMsg: outcome.error } : { errorMsg: outcome.error };
    await manager.update(Notify, { notifyId: delivery.notifyId, status: 0 }, { ...settled, updatedAt: now });
  }
  return true;
}

/**
 * SENDING → PENDING: the call certainly did not deliver (refused, throttled, not connected); a retry
 * may send. `called` false: no call was made at all, so the claim is not counted as an attempt.
 */
export async function releaseDelivery(ctx: Pick<JobContext, 'db' | 'now'>, delivery: HubMessageDelivery, err: unknown, called = true): Promise<void> {
  // Retried like settle: a release lost to a deadlock would leave the row SENDING under this job,
  // and its retry would then record UNKNOWN a message that certainly never left.
  for (let attempt = 1; ; attempt += 1) {
    try {
      const now = ctx.now();
      await ctx.db
        .createQueryBuilder()
        .update(HubMessageDelivery)
        .set({
          status: 'PENDING',
          ...(called ? {} : { attempts: () => 'GREATEST(attempts, 1) - 1' }),
          error: String(err instanceof Error ? err.message : err).slice(0, 1000),
          updatedTime: now,
        })
        .where('id = :id AND status = :sending', { id: delivery.id, sending: 'SENDING' })
        .execute();
      return;
    } catch (releaseErr) {
      if (attempt >= SETTLE_TRIES || !isTransientDatabaseError(releaseErr)) throw releaseErr;
    }
  }
}

export interface DeliveryResult {
  deliveryKey: string;
  status: 'SENT' | 'FAILED' | 'UNKNOWN';
  provider?: string;
  providerMessageId?: string;
}

export interface SendSteps {
  /**
   * Runs after the claim, right before `send` (the account's permit for this second, taken as close
   * to the call as it can be): a throw puts the row back to PENDING, the claim not counted as an attempt.
   */
  beforeSend?(): Promise<void>;
  /** Calls the vendor; throws the hub's error classes. */
  send(delivery: HubMessageDelivery): Promise<Extract<DeliveryOutcome, { status: 'SENT' }>>;
  /** The job's own record of the outcome (`sms`, `email_records`), settled with the delivery. */
  record?: RecordRow;
}

const SETTLE_TRIES = 3;

/**
 * Settles in one transaction, retried on a deadlock or a lost connection (a receipt may be updating
 * the same row). Should it still fail, the row stays SENDING under this job: its retry then settles
 * it UNKNOWN, never sending again, since the vendor may have the message already.
 */
async function settle(ctx: Pick<JobContext, 'db' | 'now'>, delivery: HubMessageDelivery, outcome: DeliveryOutcome, steps: SendSteps): Promise<void> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      const now = ctx.now();
      // One statement, unless a notifies row must change with it.
      if (delivery.notifyId) await ctx.db.transaction((manager) => finishDelivery(manager, delivery, outcome, now, steps.record));
      else await finishDelivery(ctx.db.manager, delivery, outcome, now, steps.record);
      return;
    } catch (err) {
      if (attempt >= SETTLE_TRIES || !isTransientDatabaseError(err)) throw err;
    }
  }
}

/**
 * The common path in one statement: the row inserted already SENDING under this job. Null when the
 * key exists (a retry, a duplicate, a row another job recorded PENDING): the claim decides then.
 */
async function insertClaimed(ctx: Pick<JobContext, 'db' | 'job' | 'now'>, req: DeliveryRequest): Promise<HubMessageDelivery | null> {
  const now = ctx.now();
  const row = {
    deliveryKey: req.key,
    channel: req.channel,
    recipient: req.recipient,
    status: 'SENDING' as const,
    jobName: req.jobName,
    jobId: ctx.job.id,
    payload: req.payload,
    recordId: req.recordId ?? null,
    notifyId: req.notifyId ?? null,
    attempts: 1,
    sendingTime: now,
    createdTime: now,
    updatedTime: now,
  };
  const { insertId } = await insertIfAbsent(ctx.db.manager, HubMessageDelivery, row);
  if (insertId === null) return null;
  const unset = { provider: null, providerMessageId: null, errorCode: null, error: null, receiptStatus: null, receiptCode: null, receiptTime: null, sentTime: null };
  return Object.assign(new HubMessageDelivery(), row, unset, { id: insertId });
}

/**
 * The one send path of every message job: record the delivery and claim it (one statement when it
 * is new), call the vendor once, settle the row. Permanent refusals are recorded FAILED and
 * rethrown (no retry); a lost answer is recorded UNKNOWN and not retried; anything else puts the
 * row back to PENDING and rethrows for BullMQ to retry, defer or rate-limit.
 */
export async function deliverOnce(ctx: Pick<JobContext, 'db' | 'job' | 'now' | 'log'>, req: DeliveryRequest, steps: SendSteps): Promise<JobResult<DeliveryResult>> {
  const key = req.key;
  const fresh = await insertClaimed(ctx, req);
  const claim: DeliveryClaim = fresh ? { kind: 'send', delivery: fresh } : await claimDelivery(ctx, key);
  const { delivery } = claim;
  if (claim.kind === 'final') return skipped(`delivery ${key} is ${delivery.status} already`);
  if (claim.kind === 'busy') return skipped(`delivery ${key} is being sent by job ${delivery.jobId ?? '?'}`);
  if (claim.kind === 'interrupted') {
    const error = 'the worker stopped during the call: the message may have gone out';
    await settle(ctx, delivery, { status: 'UNKNOWN', error }, steps);
    ctx.log.warn({ deliveryKey: key, channel: delivery.channel }, 'delivery outcome unknown: not sent again');
    return done({ deliveryKey: key, status: 'UNKNOWN' });
  }
  try {
    await steps.beforeSend?.();
  } catch (err) {
    await releaseDelivery(ctx, delivery, err, false);
    throw err;
  }
  let sent: Extract<DeliveryOutcome, { status: 'SENT' }>;
  try {
    sent = await steps.send(delivery);
  } catch (err) {
    if (err instanceof OutcomeUnknownError) {
      await settle(ctx, delivery, { status: 'UNKNOWN', error: err.message }, steps);
      ctx.log.warn({ deliveryKey: key, channel: delivery.channel, err }, 'delivery outcome unknown: not sent again');
      return done({ deliveryKey: key, status: 'UNKNOWN' });
    }
    if (err instanceof PermanentError) {
      await settle(ctx, delivery, { status: 'FAILED', code: err.code, error: err.message }, steps);
      throw err;
    }
    // Certainly not delivered (refused, throttled, not connected): owed again.
    await releaseDelivery(ctx, delivery, err);
    throw err;
  }
  // Sent: from here on a failure must never put the row back to PENDING.
  await settle(ctx, delivery, sent, steps);
  return done({ deliveryKey: key, status: 'SENT', provider: sent.provider, providerMessageId: sent.providerMessageId });
}
