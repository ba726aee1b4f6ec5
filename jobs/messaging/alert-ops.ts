import { logAlert, type AlertKind } from '../../lib/alerts';
import type { Config } from '../../lib/config';
import type { JobContext } from '../context';
import { beijingSlot } from '../../lib/time';
import { emailSend } from './email-send.job';
import { deliveryJobId, recordDelivery } from './delivery';
import { hashedId } from '../../lib/hashed-id';
import { alertWriteFailures } from '../../lib/metrics';
import { recordAlert } from '../../entities/hub/hub-alert.entity';

/** What raising an alert needs: jobs have it all, and so do the worker's loops (which have no job). */
export type AlertContext = Pick<JobContext, 'db' | 'log' | 'now' | 'enqueue'> & Partial<Pick<JobContext, 'job'>> & { readonly config: Pick<Config, 'messaging'> };

const SUBJECT_PREFIX = '[jobhub] ';

/**
 * Mails ops (OPS_EMAILS) through `email-send`, at most once per subject and Beijing hour: the
 * delivery key carries both, so a storm of the same alert sends one mail, and a retry none. The
 * delivery row is written first, so a Redis outage loses no alert (the sweeper enqueues it).
 * Never throws: an alert that cannot go out is logged, and the work that raised it carries on.
 */
export async function alertOps(ctx: AlertContext, subject: string, body: string): Promise<void> {
  const to = ctx.config.messaging.opsEmails;
  if (to.length === 0) {
    ctx.log.warn({ subject }, 'ops alert not mailed: OPS_EMAILS is empty');
    return;
  }
  const now = ctx.now();
  const hour = beijingSlot(now).slice(0, 10);
  const key = `${hashedId('alert-', subject, 32)}-${hour}`;
  const jobId = deliveryJobId(key);
  const payload = { deliveryKey: key, to: [...to], subject: `${SUBJECT_PREFIX}${subject}`.slice(0, 200), text: body };
  try {
    const fresh = await recordDelivery(ctx.db.manager, { key, channel: 'email', recipient: to.join(','), jobName: emailSend.name, payload, jobId }, now);
    if (!fresh) return;
    await ctx.enqueue(emailSend, payload, { jobId });
  } catch (err) {
    ctx.log.warn({ err, subject }, 'ops alert not enqueued: the delivery sweeper sends it if its row was written');
  }
}

/**
 * The `hub_alert` row ops read with `GET /api/v1/alerts` and `jobhub alerts`; once per alert however
 * often a retry raises it. Never throws: a row that cannot be written is logged and counted, and the
 * alert still goes out by the log and the mail.
 */
async function storeAlert(ctx: AlertContext, kind: AlertKind, message: string, details: Record<string, unknown>): Promise<void> {
  try {
    await recordAlert(ctx.db, { kind, message, details, raisedAt: ctx.now(), job: ctx.job });
  } catch (err) {
    alertWriteFailures.inc();
    ctx.log.error({ err, kind }, 'alert row not written');
  }
}

/**
 * An alert: the error log line and metric ops search and chart (lib/alerts.ts), the row ops list,
 * and a mail to ops. The subject names the kind and the message; the body carries the details.
 */
export async function raiseAlert(ctx: AlertContext, kind: AlertKind, message: string, details: Record<string, unknown> = {}): Promise<void> {
  logAlert(ctx.log, kind, message, details);
  await storeAlert(ctx, kind, message, details);
  const body = [message, '', ...Object.entries(details).map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`), '', `Further alerts with this subject within the hour are in the logs (alert=${kind}).`];
  await alertOps(ctx, `${kind}: ${message}`, body.join('\n'));
}
