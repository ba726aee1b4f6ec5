import type { SystemName } from '../lib/config';
import { AndroidOrder } from './app/android-order.entity';
import { DmsBusinessLog } from './customer/dms-business-log.entity';
import { SmsCodeTemp } from './customer-service/sms-code-temp.entity';
import { HubCanary } from './hub/hub-canary.entity';
import { HubCursor } from './hub/hub-cursor.entity';
import { HubOutbox } from './hub/hub-outbox.entity';
import { HubReconciliationBillRow } from './hub/hub-reconciliation-bill-row.entity';
import { HubReconciliationItem } from './hub/hub-reconciliation-item.entity';
import { HubReconciliationRun } from './hub/hub-reconciliation-run.entity';
import { EventOrder } from './marketing/event-order.entity';
import { GroupBuyEventOrder } from './marketing/group-buy-event-order.entity';
import { PayNotifyLog } from './marketing/pay-notify-log.entity';
import { PaymentOrder } from './marketing/payment-order.entity';
import { RefundOrder } from './marketing/refund-order.entity';
import { WxPayConfig } from './marketing/wx-pay-config.entity';

export {
  AndroidOrder,
  DmsBusinessLog,
  EventOrder,
  GroupBuyEventOrder,
  HubCanary,
  HubCursor,
  HubOutbox,
  HubReconciliationBillRow,
  HubReconciliationItem,
  HubReconciliationRun,
  PayNotifyLog,
  PaymentOrder,
  RefundOrder,
  SmsCodeTemp,
  WxPayConfig,
};

/** Every entity and the system (hence the database) its table belongs to. */
const ENTITY_LIST = [
  [PaymentOrder, 'marketing'],
  [RefundOrder, 'marketing'],
  [PayNotifyLog, 'marketing'],
  [WxPayConfig, 'marketing'],
  [EventOrder, 'marketing'],
  [GroupBuyEventOrder, 'marketing'],
  [AndroidOrder, 'app'],
  [SmsCodeTemp, 'customerService'],
  [DmsBusinessLog, 'customer'],
  [HubOutbox, 'hub'],
  [HubCursor, 'hub'],
  [HubCanary, 'hub'],
  [HubReconciliationRun, 'hub'],
  [HubReconciliationItem, 'hub'],
  [HubReconciliationBillRow, 'hub'],
] as const satisfies readonly (readonly [new () => object, SystemName])[];

export const ENTITIES = ENTITY_LIST.map(([entity]) => entity);

export const ENTITY_SYSTEMS: ReadonlyMap<unknown, SystemName> = new Map<unknown, SystemName>(ENTITY_LIST);
