import { HubOutboxAndCursor1763900000000 } from './1763900000000-hub-outbox-and-cursor';

/** In order. A migration, once released, is never edited: add a new one. */
export const MIGRATIONS = [HubOutboxAndCursor1763900000000];
