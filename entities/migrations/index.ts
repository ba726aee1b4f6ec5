import { HubOutboxAndCursor1763900000000 } from './1763900000000-hub-outbox-and-cursor';
import { HubCanary1764000000000 } from './1764000000000-hub-canary';
import { HubOutboxStatusIdIndex1764000000001 } from './1764000000001-hub-outbox-status-id-index';
import { HubReconciliation1764100000000 } from './1764100000000-hub-reconciliation';
import { HubMessaging1764200000000 } from './1764200000000-hub-messaging';
import { HubShare1764300000000 } from './1764300000000-hub-share';
import { HubApple1764400000000 } from './1764400000000-hub-apple';
import { HubShareKeys1764600000000 } from './1764600000000-hub-share-keys';
import { HubAudit1764700000000 } from './1764700000000-hub-audit';
import { HubAlert1764800000000 } from './1764800000000-hub-alert';

/** In order. A migration, once released, is never edited: add a new one. */
export const MIGRATIONS = [HubOutboxAndCursor1763900000000, HubCanary1764000000000, HubOutboxStatusIdIndex1764000000001, HubReconciliation1764100000000, HubMessaging1764200000000, HubShare1764300000000, HubApple1764400000000, HubShareKeys1764600000000, HubAudit1764700000000, HubAlert1764800000000];
