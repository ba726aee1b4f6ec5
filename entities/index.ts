import type { SystemName } from '../lib/config';
import { DmsBusinessLog } from './customer/dms-business-log.entity';
import { SmsCodeTemp } from './customer-service/sms-code-temp.entity';
import { HubCanary } from './hub/hub-canary.entity';
import { HubCursor } from './hub/hub-cursor.entity';
import { HubOutbox } from './hub/hub-outbox.entity';

export { DmsBusinessLog, HubCanary, HubCursor, HubOutbox, SmsCodeTemp };

/** Every entity and the system (hence the database) its table belongs to. */
const ENTITY_LIST = [
  [SmsCodeTemp, 'customerService'],
  [DmsBusinessLog, 'customer'],
  [HubOutbox, 'hub'],
  [HubCursor, 'hub'],
  [HubCanary, 'hub'],
] as const satisfies readonly (readonly [new () => object, SystemName])[];

export const ENTITIES = ENTITY_LIST.map(([entity]) => entity);

export const ENTITY_SYSTEMS: ReadonlyMap<unknown, SystemName> = new Map<unknown, SystemName>(ENTITY_LIST);
