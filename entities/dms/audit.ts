import type { EntityManager } from 'typeorm';
import { DmsBusinessLog } from './dms-business-log.entity';

/**
 * `dms_business_log.business_source` values the hub writes: 20 and up, clear of the DMS's own.
 * Each is a kind of business object whose status the hub changes.
 */
export const BusinessSource = {
  PAYMENT: 20,
  REFUND: 21,
  COUPON: 22,
  GROUP_BUY: 23,
  APPLE_ORDER: 24,
  APP_ORDER: 25,
  EVENT_ORDER: 26,
} as const;
export type BusinessSource = (typeof BusinessSource)[keyof typeof BusinessSource];

export const OperationType = { CREATE: 1, UPDATE: 2, DELETE: 3 } as const;
export type OperationType = (typeof OperationType)[keyof typeof OperationType];

/** `create_user` of every row the hub writes. */
export const HUB_USER = '0';

export interface AuditEntry {
  businessNo: string;
  source: BusinessSource;
  operation: OperationType;
  oldValue?: Record<string, unknown> | null;
  newValue?: Record<string, unknown> | null;
  remark?: string;
}

/** Fields whose values differ between the old and the new state. */
export function changedFields(oldValue: Record<string, unknown> | null | undefined, newValue: Record<string, unknown> | null | undefined): string[] {
  const keys = new Set([...Object.keys(oldValue ?? {}), ...Object.keys(newValue ?? {})]);
  return [...keys].filter((k) => JSON.stringify(oldValue?.[k]) !== JSON.stringify(newValue?.[k]));
}

/** `ctx.audit` for a clock: what the runner gives jobs, and what code outside a job (routes, tests) passes as its deps. */
export function auditAt(now: () => Date): (manager: EntityManager, entry: AuditEntry) => Promise<void> {
  return (manager, entry) => writeAudit(manager, entry, now());
}

/** Writes the audit row with `manager`, so it commits or rolls back with the change it records. */
export async function writeAudit(manager: EntityManager, entry: AuditEntry, at: Date): Promise<void> {
  await manager.insert(DmsBusinessLog, {
    businessNo: entry.businessNo,
    businessSource: entry.source,
    operationType: entry.operation,
    oldValue: entry.oldValue ? JSON.stringify(entry.oldValue) : null,
    newValue: entry.newValue ? JSON.stringify(entry.newValue) : null,
    changeFields: JSON.stringify(changedFields(entry.oldValue, entry.newValue)),
    remark: entry.remark ?? null,
    overFlag: 0,
    createUser: HUB_USER,
    createTime: at,
    updateTime: at,
  });
}
