import type { DataSource } from 'typeorm';
import type { AppleEnvironment, AppleIntegration, AppleSubscriptionStatus } from '../../integrations/apple/apple.client';
import { AppleApiError } from '../../integrations/apple/apple.errors';
import { PermanentError } from '../../lib/errors';
import type { Logger } from '../../lib/logger';
import { applyAppleTransactionState, type AppleApplyOutcome, type AppleTransactionState } from './apply-apple-transaction';

/**
 * Get All Subscription Statuses as the hub applies it: each subscription group's latest transaction
 * is a state like a notification's, ordered by when Apple signed it, so an answer older than a
 * notification already applied changes nothing.
 */

/** When Apple signed the answer: the later of the transaction's and the renewal's signedDate, else `fallback`. */
export function statusSignedDate(s: AppleSubscriptionStatus, fallback: number): number {
  const signed = Math.max(s.transaction.signedDate ?? 0, s.renewal?.signedDate ?? 0);
  return signed > 0 ? signed : fallback;
}

export function statusState(environment: AppleEnvironment, s: AppleSubscriptionStatus, now: Date): AppleTransactionState {
  return {
    environment,
    transaction: s.transaction,
    renewal: s.renewal,
    status: s.status,
    notificationType: null,
    subtype: null,
    signedDate: statusSignedDate(s, now.getTime()),
  };
}

export interface AppliedStatus {
  readonly status: AppleSubscriptionStatus;
  readonly outcome: AppleApplyOutcome;
}

/** Applies every latest transaction of a status answer, one after the other (they may share a user). */
export async function applyStatuses(
  db: DataSource,
  apple: AppleIntegration,
  environment: AppleEnvironment,
  statuses: readonly AppleSubscriptionStatus[],
  opts: { now: Date; log: Logger },
): Promise<AppliedStatus[]> {
  const applied: AppliedStatus[] = [];
  for (const status of statuses) {
    applied.push({ status, outcome: await applyAppleTransactionState(db, apple, statusState(environment, status, opts.now), opts) });
  }
  return applied;
}

/**
 * A permanent answer about this one subscription (unknown id, a family transaction Apple will not
 * answer for), recorded and skipped; a refused JWT (401) is the whole account's and fails the job.
 */
export function isSubscriptionError(err: unknown): err is PermanentError {
  return err instanceof PermanentError && !(err instanceof AppleApiError && err.httpStatus === 401);
}
