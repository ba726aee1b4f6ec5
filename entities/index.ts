import type { SystemName } from '../lib/config';
import { DmsBusinessLog } from './customer/dms-business-log.entity';
import { SmsCodeTemp } from './customer-service/sms-code-temp.entity';
import { HubCursor } from './hub/hub-cursor.entity';
import { HubOutbox } from './hub/hub-outbox.entity';

export { DmsBusinessLog, HubCursor, HubOutbox, SmsCodeTemp };

// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
export type EntityClass = Function;

/** Every entity and the system (hence the database) its table belongs to. */
export const ENTITY_SYSTEMS: ReadonlyMap<EntityClass, SystemName> = new Map<EntityClass, SystemName>([
  [SmsCodeTemp, 'customerService'],
  [DmsBusinessLog, 'customer'],
  [HubOutbox, 'hub'],
  [HubCursor, 'hub'],
]);
