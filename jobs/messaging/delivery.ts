import type { EntityManager } from 'typeorm';
import { z } from 'zod';
import { Notify, NotifyStatus } from '../../entities/customer-service/notify.entity';
import { affectedRows, insertIfAbsent, setClause, sqlTable } from '../../entities/raw-sql';
import { HubMessageDelivery, type DeliveryChannel } from '../../entities/hub/hub-message-delivery.entity';
import type { JobContext } from '../context';
import { isTransientDatabaseError, OutcomeUnknownError, PermanentError } from '../../lib/errors';
import { messagesDelivered } from '../../lib/metrics';
import { retryAtOnce } from '../../lib/retry';
import { done, skipped, type JobResult } from '../define-job';
import { hashedId } from '../../lib/hashed-id';

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
  return hashedId('msg-', key, 40);
}

/** The key of a send whose caller gave none: its job's own id, so its retries share it. */
export function jobDeliveryKey(ctx: Pick<JobContext, 'job'>): string {
  return `job-${ctx.job.name}-${ctx.job.id}`;
}

/** The row's columns every new delivery starts with, whichever way it is inserted. */
function newDeliveryRow(req: DeliveryRequest, now: Date) {
  return {
    deliveryKey: req.key,
    channel: req.channel,
    recipient: req.recipient,
    jobName: req.jobName,
    payload: req.payload,
    recordId: req.recordId ?? null,
    notifyId: req.notifyId ?? null,
    createdTime: now,
    updatedTime: now,
  };
}

/** Inserts the row PENDING unless the key exists; inside the caller's transaction when given one. Returns whether it was new. */
export async function recordDelivery(manager: EntityManager, req: DeliveryRequest, now: Date): Promise<boolean> {
  const { affectedRows } = await insertIfAbsent(manager, HubMessageDelivery, { ...newDeliveryRow(req, now), status: 'PENDING', jobId: req.jobId ?? null });
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

/** The delivery's columns once `outcome` is known. */
function settledColumns(delivery: HubMessageDelivery, outcome: DeliveryOutcome, now: Date): Partial<HubMessageDelivery> {
  const sent = outcome.status === 'SENT';
  return {
    status: outcome.status,
    provider: outcome.provider ?? delivery.provider,
    providerMessageId: sent ? outcome.providerMessageId : delivery.providerMessageId,
    errorCode: outcome.status === 'FAILED' ? outcome.code : outcome.status === 'UNKNOWN' ? 'OUTCOME_UNKNOWN' : null,
    error: sent ? (outcome.detail?.slice(0, 1000) ?? null) : outcome.error.slice(0, 1000),
    sentTime: sent ? now : null,
    updatedTime: now,
  };
}

/** What the `notifies` row becomes; UNKNOWN leaves it pending (ops settle it) with the reason. */
function settledNotify(outcome: DeliveryOutcome, now: Date): Partial<Notify> {
  if (outcome.status === 'SENT') return { status: NotifyStatus.SENT, sendTime: now, errorMsg: null, updatedAt: now };
  if (outcome.status === 'FAILED') return { status: NotifyStatus.FAILED, errorMsg: outcome.error, updatedAt: now };
  return { errorMsg: outcome.error, updatedAt: now };
}

/**
 * SENDING → final, with the job's record row, in one statement (a multi-table UPDATE: one round
 * trip, one commit, which the query builder cannot express); the `notifies` row it settles follows
 * in the caller's transaction. False when the row had left SENDING.
 */
export async function finishDelivery(manager: EntityManager, delivery: HubMessageDelivery, outcome: DeliveryOutcome, now: Date, record?: RecordRow): Promise<boolean> {
  const d = sqlTable(manager, HubMessageDelivery);
  const set = [setClause(d, 'd', settledColumns(delivery, outcome, now))];
  let join = '';
  const joinParams: unknown[] = [];
  if (record && delivery.recordId) {
    const r = sqlTable(manager, record.entity);
    join = ` LEFT JOIN ${r.path} r ON r.${r.column(record.idProperty)} = d.${d.column('recordId')}`;
    if (record.onlyWhile) {
      const guarded = `r.${r.column(record.onlyWhile.property)}`;
      join += ` AND (${guarded} = ? OR ${guarded} IS NULL)`;
      joinParams.push(record.onlyWhile.value);
    }
    set.push(setClause(r, 'r', record.values(outcome, now)));
  }
  const result = await manager.query(
    `UPDATE ${d.path} d${join} SET ${set.map((c) => c.sql).join(', ')} WHERE d.${d.column('id')} = ? AND d.${d.column('status')} = ?`,
    [...joinParams, ...set.flatMap((c) => c.params), delivery.id, 'SENDING'],
  );
  if (affectedRows(result) === 0) return false;
  messagesDelivered.inc({ channel: delivery.channel, status: outcome.status });
  if (delivery.notifyId) await manager.update(Notify, { notifyId: delivery.notifyId, status: NotifyStatus.PENDING }, settledNotify(outcome, now));
  return true;
}

/**
 * SENDING → PENDING: the call certainly did not deliver (refused, throttled, not connected); a retry
 * may send. `called` false: no call was made at all, so the claim is not counted as an attempt.
 */
export async function releaseDelivery(ctx: Pick<JobContext, 'db' | 'now'>, delivery: HubMessageDelivery, err: unknown, called = true): Promise<void> {
  // Retried like settle: a release lost to a deadlock would leave the row SENDING under this job,
  // and its retry would then record UNKNOWN a message that certainly never left.
  await retryAtOnce(SETTLE_TRIES, isTransientDatabaseError, () =>
    ctx.db
      .createQueryBuilder()
      .update(HubMessageDelivery)
      .set({
        status: 'PENDING',
        ...(called ? {} : { attempts: () => 'GREATEST(attempts, 1) - 1' }),
        error: String(err instanceof Error ? err.message : err).slice(0, 1000),
        updatedTime: ctx.now(),
      })
      .where('id = :id AND status = :sending', { id: delivery.id, sending: 'SENDING' })
      .execute(),
  );
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
  await retryAtOnce(SETTLE_TRIES, isTransientDatabaseError, async () => {
    const now = ctx.now();
    // One statement, unless a notifies row must change with it.
    if (delivery.notifyId) await ctx.db.transaction((manager) => finishDelivery(manager, delivery, outcome, now, steps.record));
    else await finishDelivery(ctx.db.manager, delivery, outcome, now, steps.record);
  });
}

/**
 * The common path in one statement: the row inserted already SENDING under this job. Null when the
 * key exists (a retry, a duplicate, a row another job recorded PENDING): the claim decides then.
 */
async function insertClaimed(ctx: Pick<JobContext, 'db' | 'job' | 'now'>, req: DeliveryRequest): Promise<HubMessageDelivery | null> {
  const now = ctx.now();
  const row = { ...newDeliveryRow(req, now), status: 'SENDING' as const, jobId: ctx.job.id, attempts: 1, sendingTime: now };
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
