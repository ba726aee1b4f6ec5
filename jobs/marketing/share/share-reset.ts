import type { DataSource } from 'typeorm';
import { affectedRows } from '../../../entities/raw-sql';
import { cursorTable, ensureShareCursor, SHARE_CURSOR } from './share-fold';
import { shareTables } from './share-window';

export interface ShareResetCounts {
  members: number;
  childInfos: number;
  resources: number;
  facts: number;
}


/**
 * Zeroes every share counter, forgets the first-time facts and puts the cursor back to 0, in one
 * transaction that holds the cursor row: an aggregator running meanwhile waits, then starts again
 * from 0 with the rebuild, so each window is still applied once. Rows whose counters are already
 * zero or NULL are left alone (NULL stays NULL: it reads as 0). Resource keys stay: they name
 * resources and count nothing.
 */
export async function resetShareCounters(db: DataSource, now: Date): Promise<ShareResetCounts> {
  const t = shareTables(db.manager);
  await ensureShareCursor(db.manager, now);
  return db.transaction('READ COMMITTED', async (m) => {
    const cursors = cursorTable(m);
    await m.query(`SELECT position FROM ${cursors} WHERE name = ? FOR UPDATE`, [SHARE_CURSOR]);
    const members = affectedRows(
      await m.query(
        `UPDATE ${t.member} SET share_count = 0, open_count = 0, child_member_total_count = 0, child_member_uv_count = 0, child_member_save_count = 0
         WHERE share_count <> 0 OR open_count <> 0 OR child_member_total_count <> 0 OR child_member_uv_count <> 0 OR child_member_save_count <> 0`,
      ),
    );
    const childInfos = affectedRows(
      await m.query(
        `UPDATE ${t.childInfo} SET child_member_share_count = 0, child_member_open_count = 0, child_member_count = 0, child_member_save_info_count = 0
         WHERE child_member_share_count <> 0 OR child_member_open_count <> 0 OR child_member_count <> 0 OR child_member_save_info_count <> 0`,
      ),
    );
    const resources = affectedRows(
      await m.query(
        `UPDATE ${t.resource} SET share_count = 0, reach_count = 0, uv_count = 0, max_depth = 0, updated_time = ?
         WHERE share_count <> 0 OR reach_count <> 0 OR uv_count <> 0 OR max_depth <> 0`,
        [now],
      ),
    );
    // DELETE, not TRUNCATE: TRUNCATE commits on its own and would escape this transaction.
    const facts = affectedRows(await m.query(`DELETE FROM ${t.firstReach}`)) + affectedRows(await m.query(`DELETE FROM ${t.firstReferral}`));
    await m.query(`UPDATE ${cursors} SET position = '0', updated_time = ? WHERE name = ?`, [now, SHARE_CURSOR]);
    return { members, childInfos, resources, facts };
  });
}
