import type { Logger } from './logger';
import { alertsRaised } from './metrics';

/** What ops must look at; each kind is a label of `jobhub_alerts_total`. */
export type AlertKind =
  | 'payment-amount-mismatch'
  | 'payment-unknown-order'
  | 'reconciliation-discrepancies'
  | 'reconciliation-failed'
  | 'refund-abnormal'
  | 'refund-amount-mismatch'
  | 'refund-balance-short'
  | 'refund-failed'
  | 'refund-unknown';

/**
 * Raises an alert: an error log line ops can search for (`alert` field) and the metric their
 * alerting rules watch. Mail and other channels hook in here, so callers never change.
 */
export function raiseAlert(log: Logger, kind: AlertKind, message: string, details: Record<string, unknown> = {}): void {
  alertsRaised.inc({ kind });
  log.error({ alert: kind, ...details }, message);
}
