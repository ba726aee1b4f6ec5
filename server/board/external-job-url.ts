import type { ExternalJobUrl, QueueAdapterOptions, QueueJobJson } from '@bull-board/api/typings/app';

type JobWithData = Pick<QueueJobJson, 'data'>;

function stringField(data: unknown, field: string): string | null {
  if (typeof data !== 'object' || data === null) return null;
  const value: unknown = (data as Record<string, unknown>)[field];
  return typeof value === 'string' && value.length > 0 ? value : null;
}

/**
 * The record a job works on, by the business key in its payload: a refund's `outRefundNo` and a
 * payment's `outTradeNo` link to their lookup, which the board's admin login may read (the refund
 * route itself takes API tokens only).
 * A refund job names both; the refund is the more precise record. Jobs without a key get no link.
 */
export function jobRecordLink(job: JobWithData): ExternalJobUrl | undefined {
  const outRefundNo = stringField(job.data, 'outRefundNo');
  if (outRefundNo) return { href: `/api/v1/lookup?key=${encodeURIComponent(outRefundNo)}`, displayText: `refund ${outRefundNo}` };
  const outTradeNo = stringField(job.data, 'outTradeNo');
  if (outTradeNo) return { href: `/api/v1/lookup?key=${encodeURIComponent(outTradeNo)}`, displayText: `payment ${outTradeNo}` };
  return undefined;
}

/**
 * Bull Board's `externalJobUrl` adapter option. Its type demands a link for every job, but Bull
 * Board 9 draws one only when the answer holds it (its job schema has `externalUrl` optional), so a
 * job without a business key is answered with none rather than a dead link.
 */
export const externalJobUrl = jobRecordLink as NonNullable<QueueAdapterOptions['externalJobUrl']>;
