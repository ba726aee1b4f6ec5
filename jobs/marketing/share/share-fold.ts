import type { DataSource, EntityManager } from 'typeorm';
import { HubCursor } from '../../../entities/hub/hub-cursor.entity';
import { sqlTable } from '../../../entities/raw-sql';
import { applyShareWindow, shareTables, type ShareTables, type ShareWindowCounts } from './share-window';

/** The hub_cursor row: the last share_tracking id folded into the counters. */
export const SHARE_CURSOR = 'share-aggregate';

export interface FoldOptions {
  batchSize: number;
  /** Rows younger than this (by created_time, else browse_time) are left for a later run. */
  lagSeconds: number;
  now: Date;
  signal: AbortSignal;
  /** Stops after this many windows (a bounded run); the next run carries on from the cursor. */
  maxWindows?: number;
  onWindow?: (folded: ShareFoldResult) => Promise<void>;
}

export interface ShareFoldResult extends ShareWindowCounts {
  windows: number;
  /** The cursor when the run started and when it ended. */
  from: string;
  to: string;
  /** The highest id this run was allowed to read. */
  safeWatermark: string;
}

export function cursorTable(m: EntityManager): string {
  return sqlTable(m, HubCursor).path;
}

export async function ensureShareCursor(m: EntityManager, now: Date): Promise<void> {
  await m.query(`INSERT INTO ${cursorTable(m)} (name, position, updated_time) VALUES (?, '0', ?) ON DUPLICATE KEY UPDATE name = name`, [SHARE_CURSOR, now]);
}

/**
 * The safe watermark: the highest id among rows older than the lag. An id is given out when a row
 * is inserted and its created_time is stamped then, so a row still uncommitted now was inserted
 * within the lag (when no insert transaction outlasts it); any row with a higher id came after it
 * and is younger still. So every row at or below the watermark is already visible: none can
 * commit there later. The scan runs down from the newest id and stops at the first old row, so it
 * reads only the young tail.
 */
export async function safeWatermark(m: EntityManager, t: ShareTables, cursor: string, cutoff: Date): Promise<string> {
  const [row] = (await m.query(
    `SELECT id FROM ${t.tracking} WHERE id > ? AND COALESCE(created_time, browse_time) < ? ORDER BY id DESC LIMIT 1`,
    [cursor, cutoff],
  )) as { id: string | number }[];
  return row ? String(row.id) : cursor;
}

async function windowEnd(m: EntityManager, t: ShareTables, lo: string, limit: string, batchSize: number): Promise<string> {
  const [row] = (await m.query(`SELECT id FROM ${t.tracking} WHERE id > ? AND id <= ? ORDER BY id LIMIT 1 OFFSET ${batchSize - 1}`, [lo, limit])) as {
    id: string | number;
  }[];
  return row ? String(row.id) : limit;
}

/**
 * Folds share_tracking rows above the cursor and up to the safe watermark, one transaction per
 * window: the cursor row is locked first (a second runner waits, then reads the moved cursor and
 * starts after it), the counters change, the cursor moves, all commit together.
 */
export async function foldShareTracking(db: DataSource, o: FoldOptions): Promise<ShareFoldResult> {
  const t = shareTables(db.manager);
  const cursors = cursorTable(db.manager);
  await ensureShareCursor(db.manager, o.now);
  const [start] = (await db.query(`SELECT position FROM ${cursors} WHERE name = ?`, [SHARE_CURSOR])) as { position: string }[];
  const from = start?.position ?? '0';
  const limit = await safeWatermark(db.manager, t, from, new Date(o.now.getTime() - o.lagSeconds * 1_000));
  const total: ShareFoldResult = { windows: 0, rows: 0, shares: 0, reaches: 0, firstReaches: 0, firstReferrals: 0, from, to: from, safeWatermark: limit };
  while (o.maxWindows === undefined || total.windows < o.maxWindows) {
    o.signal.throwIfAborted();
    // READ COMMITTED: reads of share_tracking take no shared locks, so a platform insert still in
    // flight just above the window never blocks a window (nor the reverse).
    const folded = await db.transaction('READ COMMITTED', async (m) => {
      const [locked] = (await m.query(`SELECT position FROM ${cursors} WHERE name = ? FOR UPDATE`, [SHARE_CURSOR])) as { position: string }[];
      const lo = locked?.position ?? '0';
      if (BigInt(lo) >= BigInt(limit)) return { lo, hi: lo, counts: undefined };
      const hi = await windowEnd(m, t, lo, limit, o.batchSize);
      const counts = await applyShareWindow(m, t, lo, hi, o.now);
      await m.query(`UPDATE ${cursors} SET position = ?, updated_time = ? WHERE name = ?`, [hi, o.now, SHARE_CURSOR]);
      return { lo, hi, counts };
    });
    total.to = folded.hi;
    if (!folded.counts) break;
    total.windows += 1;
    total.rows += folded.counts.rows;
    total.shares += folded.counts.shares;
    total.reaches += folded.counts.reaches;
    total.firstReaches += folded.counts.firstReaches;
    total.firstReferrals += folded.counts.firstReferrals;
    await o.onWindow?.(total);
  }
  return total;
}
