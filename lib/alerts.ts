import type { Logger } from './logger';
import { alertsRaised } from './metrics';

/** What ops must look at; each kind is a label of `jobhub_alerts_total`. */
export type AlertKind =
  | 'group-buy-refund-refused'
  | 'payment-amount-mismatch'
  | 'payment-appid-mismatch'
  | 'payment-unknown-order'
  | 'queue-failed-jobs'
  | 'reconciliation-discrepancies'
  | 'reconciliation-failed'
  | 'refund-abnormal'
  | 'refund-amount-mismatch'
  | 'refund-balance-short'
  | 'refund-failed'
  | 'refund-status-repaired'
  | 'refund-unknown'
  | 'refunded-amount-mismatch';

/**
 * The searchable half of an alert: an error log line (`alert` field) and the metric alerting rules
 * watch. `raiseAlert` (jobs/messaging/alert-ops.ts) adds the mail to ops.
 */
export function logAlert(log: Logger, kind: AlertKind, message: string, details: Record<string, unknown> = {}): void {
  alertsRaised.inc({ kind });
  log.error({ alert: kind, ...details }, message);
}
