import type { DeliveryChannel } from '../entities/hub/hub-message-delivery.entity';
import type { SmsProvider } from '../integrations/sms/sms.client';
import { registry as defaultRegistry } from '../jobs';
import type { Enqueue } from '../jobs/context';
import type { JobRegistry, JobResult } from '../jobs/define-job';
import type { DeliveryOutcome } from '../jobs/messaging/delivery';
import { SCHEDULES, type Schedule } from '../jobs/schedules';
import type { AlertKind } from '../lib/alerts';
import type { Config } from '../lib/config';
import {
  alertsRaised,
  boardLoginFailures,
  clockSlots,
  jobsCompleted,
  jobsFailed,
  jobsHandedBack,
  jobsRetried,
  jobsStalled,
  jobsWaitingForDatabase,
  messagesDelivered,
  outboxRows,
  smsReceipts,
  sweeperRestored,
  sweeperRuns,
  workersRecreated,
} from '../lib/metrics';
import { QUEUE_NAMES } from '../lib/queue-names';
import { failedJobsWatch } from './failed-jobs-watch';
import { SWEEPERS } from './worker-role';

// Records over the label types: a value added to a type and missing here fails the type check.
const keys = <K extends string>(record: Record<K, true>): K[] => Object.keys(record) as K[];
const JOB_STATUSES = keys<JobResult['status']>({ done: true, skipped: true });
const ALERT_KINDS = keys<AlertKind>({
  'group-buy-refund-refused': true,
  'payment-amount-mismatch': true,
  'payment-appid-mismatch': true,
  'payment-unknown-order': true,
  'queue-failed-jobs': true,
  'reconciliation-discrepancies': true,
  'reconciliation-failed': true,
  'refund-abnormal': true,
  'refund-amount-mismatch': true,
  'refund-balance-short': true,
  'refund-failed': true,
  'refund-status-repaired': true,
  'refund-unknown': true,
  'refunded-amount-mismatch': true,
});
const CHANNELS = keys<DeliveryChannel>({ sms: true, 'wechat-template': true, 'wechat-subscribe': true, email: true });
const MESSAGE_STATUSES = keys<DeliveryOutcome['status']>({ SENT: true, FAILED: true, UNKNOWN: true });
const SMS_PROVIDERS = keys<SmsProvider>({ aliyun: true, tencent: true });
// The outcomes below are string literals at their one call site (workers/clock.ts, sweeper.ts,
// outbox-relay.ts, jobs/messaging/apply-sms-receipt.ts, server/board/board-login.ts).
const CLOCK_OUTCOMES = ['enqueued', 'duplicate', 'dropped', 'error'];
const SWEEPER_OUTCOMES = ['swept', 'skipped_locked', 'error'];
const OUTBOX_OUTCOMES = ['enqueued', 'failed'];
const RECEIPT_OUTCOMES = ['delivered', 'undelivered', 'unmatched', 'refused'];
const LOGIN_REASONS = ['bad_credentials', 'throttled'];

export interface KnownLabels {
  /** For the failed-jobs watch, a sweeper built from configuration. */
  config: Pick<Config, 'messaging'>;
  enqueue: Enqueue;
  registry?: JobRegistry;
  schedules?: readonly Schedule[];
}

/** The sweepers a worker role runs (workers/worker-role.ts), by name. */
function sweeperNames(known: KnownLabels): string[] {
  return [...SWEEPERS, failedJobsWatch(known)].map((s) => s.name);
}

/**
 * Every counter's series whose labels are known before anything happens, at 0. A counter first
 * written at 1 has no earlier sample, so `increase()` and `rate()` miss a process's first event
 * (its first alert, its first failed job). Unbounded labels (none today) are left alone.
 * Every process calls it at start (workers/process.ts): series of a role the process does not run
 * stay at 0 there, which sums and alerts read as nothing.
 */
export function initialiseMetrics(known: KnownLabels): void {
  const registry = known.registry ?? defaultRegistry;
  for (const def of registry.values()) {
    const labels = { job: def.name, queue: def.queue };
    for (const status of JOB_STATUSES) jobsCompleted.inc({ ...labels, status }, 0);
    for (const counter of [jobsFailed, jobsRetried, jobsHandedBack, jobsWaitingForDatabase]) counter.inc(labels, 0);
  }
  for (const schedule of known.schedules ?? SCHEDULES) {
    for (const outcome of CLOCK_OUTCOMES) clockSlots.inc({ job: schedule.job.name, outcome }, 0);
  }
  for (const sweeper of sweeperNames(known)) {
    sweeperRestored.inc({ sweeper }, 0);
    for (const outcome of SWEEPER_OUTCOMES) sweeperRuns.inc({ sweeper, outcome }, 0);
  }
  for (const queue of QUEUE_NAMES) for (const counter of [workersRecreated, jobsStalled]) counter.inc({ queue }, 0);
  for (const outcome of OUTBOX_OUTCOMES) outboxRows.inc({ outcome }, 0);
  for (const kind of ALERT_KINDS) alertsRaised.inc({ kind }, 0);
  for (const channel of CHANNELS) for (const status of MESSAGE_STATUSES) messagesDelivered.inc({ channel, status }, 0);
  for (const provider of SMS_PROVIDERS) for (const outcome of RECEIPT_OUTCOMES) smsReceipts.inc({ provider, outcome }, 0);
  for (const reason of LOGIN_REASONS) boardLoginFailures.inc({ reason }, 0);
}
