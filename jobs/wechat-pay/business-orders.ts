import { BusinessSource } from '../../entities/dms/audit';
import { EventOrder } from '../../entities/marketing/event-order.entity';
import { GroupBuyEventOrder } from '../../entities/marketing/group-buy-event-order.entity';

export type BusinessOrderEntity = typeof EventOrder | typeof GroupBuyEventOrder;

/** The business order tables a payment can pay for, with the audit source their rows are logged under. */
export const BUSINESS_TABLES: readonly { entity: BusinessOrderEntity; source: BusinessSource }[] = [
  { entity: EventOrder, source: BusinessSource.EVENT_ORDER },
  { entity: GroupBuyEventOrder, source: BusinessSource.GROUP_BUY },
];
