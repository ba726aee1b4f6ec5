import type { DataSource, EntityManager } from 'typeorm';
import { HubCursor } from '../../entities/hub/hub-cursor.entity';
import { sqlTable } from '../../entities/raw-sql';
import { comparePositions, FEED_START, type FeedPage, type FeedPosition } from '../../integrations/school-tms/school-tms.client';

/** What a sync run did to the rows, the job's result. */
export interface SyncCounts {
  inserted: number;
  updated: number;
  deleted: number;
  unchanged: number;
}

export interface FeedRunResult extends SyncCounts {
  pages: number;
  /** Records read (the overlap re-reads some every run). */
  records: number;
  /** The cursor (`<updated_at>|<id>`) when the run started and when it ended; '' before the first page ever. */
  cursorFrom: string;
  cursorTo: string;
}

export interface FeedRunOptions<T> {
  /** The hub_cursor row of this feed. */
  cursor: string;
  /** The run starts this far before the cursor's time, so records the source committed late are read too. */
  overlapMs: number;
  pageSize: number;
  now: Date;
  signal: AbortSignal;
  /** Stops after this many pages (a bounded run); the next run carries on from the cursor. */
  maxPages?: number;
  fetch(from: FeedPosition, limit: number): Promise<FeedPage<T>>;
  /** Writes one page inside the transaction that moves the cursor. */
  apply(m: EntityManager, items: T[]): Promise<SyncCounts>;
  onPage?(total: FeedRunResult): Promise<void>;
}

export const NO_COUNTS: SyncCounts = { inserted: 0, updated: 0, deleted: 0, unchanged: 0 };

const encode = (p: FeedPosition): string => `${p.updatedAfter}|${p.afterId ?? ''}`;

function decode(text: string | undefined): FeedPosition | null {
  const match = /^([^|]+)\|(.*)$/.exec(text ?? '');
  if (!match?.[1]) return null;
  return match[2] ? { updatedAfter: match[1], afterId: match[2] } : { updatedAfter: match[1] };
}

/**
 * `INSERT … ON DUPLICATE KEY UPDATE` of `rows` distinct keys, `existing` of which were there
 * before (counted in the same transaction). mysql2 connects with CLIENT_FOUND_ROWS (its default,
 * which our pool keeps), so affectedRows counts 1 per insert, 2 per update and 1 per unchanged
 * row: the updates are what exceeds one per row. (Without the flag an unchanged row counts 0.)
 */
export function upsertCounts(affected: number, rows: number, existing: number): Omit<SyncCounts, 'deleted'> {
  const updated = affected - rows;
  const counts = { inserted: rows - existing, updated, unchanged: existing - updated };
  if (counts.inserted < 0 || updated < 0 || counts.unchanged < 0) {
    throw new Error(`upsert counts do not add up (affected ${affected}, rows ${rows}, existing ${existing}): is CLIENT_FOUND_ROWS off?`);
  }
  return counts;
}

export function addCounts(total: SyncCounts, more: SyncCounts): void {
  total.inserted += more.inserted;
  total.updated += more.updated;
  total.deleted += more.deleted;
  total.unchanged += more.unchanged;
}

async function readCursor(m: EntityManager, name: string, lock: boolean): Promise<string> {
  const table = sqlTable(m, HubCursor).path;
  const [row] = (await m.query(`SELECT position FROM ${table} WHERE name = ?${lock ? ' FOR UPDATE' : ''}`, [name])) as { position: string }[];
  return row?.position ?? '';
}

/**
 * Reads a feed from its cursor (less the overlap) to its end, one transaction per page: the cursor
 * row is locked, the page fetched and written, the cursor moved to the page's last record (never
 * backwards), all committed together. A page that fails rolls back alone, so the cursor never
 * passes it; a second run waits on the lock and its pages apply after ours, in the order they were
 * read, so an older read never overwrites a newer one. Rows are upserts keyed by the source's id,
 * so reading a record twice (the overlap, a record changed mid-run) changes nothing the second time.
 */
export async function runFeed<T extends { id: string; updatedAt: string }>(db: DataSource, o: FeedRunOptions<T>): Promise<FeedRunResult> {
  const table = sqlTable(db.manager, HubCursor).path;
  await db.query(`INSERT INTO ${table} (name, position, updated_time) VALUES (?, '', ?) ON DUPLICATE KEY UPDATE name = name`, [o.cursor, o.now]);
  const start = await readCursor(db.manager, o.cursor, false);
  const stored = decode(start);
  let from: FeedPosition = stored ? { updatedAfter: new Date(Date.parse(stored.updatedAfter) - o.overlapMs).toISOString() } : FEED_START;
  const total: FeedRunResult = { ...NO_COUNTS, pages: 0, records: 0, cursorFrom: start, cursorTo: start };
  while (o.maxPages === undefined || total.pages < o.maxPages) {
    o.signal.throwIfAborted();
    const done = await db.transaction('READ COMMITTED', async (m) => {
      const locked = decode(await readCursor(m, o.cursor, true));
      const page = await o.fetch(from, o.pageSize);
      const counts = await o.apply(m, page.items);
      const last = page.items.at(-1);
      let position = locked;
      if (last && (!locked || comparePositions({ updatedAfter: last.updatedAt, afterId: last.id }, locked) > 0)) {
        position = { updatedAfter: last.updatedAt, afterId: last.id };
        await m.query(`UPDATE ${table} SET position = ?, updated_time = ? WHERE name = ?`, [encode(position), o.now, o.cursor]);
      }
      return { page, counts, position };
    });
    addCounts(total, done.counts);
    total.pages += 1;
    total.records += done.page.items.length;
    total.cursorTo = done.position ? encode(done.position) : '';
    await o.onPage?.(total);
    if (!done.page.next) break;
    from = done.page.next;
  }
  return total;
}
