import type { QueueEvents } from 'bullmq';
import { HubCursor } from '../../entities/hub/hub-cursor.entity';
import { HubShareFirstReach } from '../../entities/hub/hub-share-first-reach.entity';
import { HubShareFirstReferral } from '../../entities/hub/hub-share-first-referral.entity';
import { HubShareResource } from '../../entities/hub/hub-share-resource.entity';
import { Member } from '../../entities/marketing/member.entity';
import { MemberChildInfo } from '../../entities/marketing/member-child-info.entity';
import { ResourceShareInfo } from '../../entities/marketing/resource-share-info.entity';
import { ShareTracking } from '../../entities/marketing/share-tracking.entity';
import { shareAggregate } from '../../jobs/marketing/share/share-aggregate.job';
import { shareRebuild } from '../../jobs/marketing/share/share-rebuild.job';
import { foldShareTracking, SHARE_CURSOR } from '../../jobs/marketing/share/share-fold';
import { HubShareKeys1764600000000 } from '../../entities/migrations/1764600000000-hub-share-keys';
import { parseBeijing } from '../../lib/time';
import { clearTables } from '../support/db';
import { openTestHub, type TestHub } from '../support/hub';
import { testQueueEvents } from '../support/queues';
import { expectedCounters, randomShareData, usableCount, type ChildInfoRow, type MemberRow, type Snapshot, type TrackingRow } from './share-aggregate.model';

const START = parseBeijing('2026-11-23 10:00:00');
const MIN = 60_000;
let now = START;
const ago = (ms: number): Date => new Date(now.getTime() - ms);

async function insertMembers(hub: TestHub, members: MemberRow[]): Promise<void> {
  for (let i = 0; i < members.length; i += 500) {
    const chunk = members.slice(i, i + 500);
    await hub.db.query(
      `INSERT INTO member (id, created_time, save_info_time) VALUES ${chunk.map(() => '(?, ?, ?)').join(', ')}`,
      chunk.flatMap((m) => [m.id, m.createdTime, m.saveInfoTime]),
    );
  }
}

async function insertChildInfos(hub: TestHub, rows: ChildInfoRow[]): Promise<void> {
  if (rows.length === 0) return;
  await hub.db.query(
    `INSERT INTO member_child_info (id, child_member_id, member_id, resource_id) VALUES ${rows.map(() => '(?, ?, ?, ?)').join(', ')}`,
    rows.flatMap((r) => [r.id, r.childMemberId, r.memberId, r.resourceId]),
  );
}

/** Inserts rows in order; returns them with the ids MariaDB gave. */
async function insertTracking(hub: TestHub, rows: Omit<TrackingRow, 'id'>[]): Promise<TrackingRow[]> {
  const out: TrackingRow[] = [];
  for (const r of rows) {
    const result = (await hub.db.query(
      `INSERT INTO share_tracking (member_id, resource_type, resource_id, type, from_member_ids, depth, browse_time, created_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      [r.memberId, r.resourceType, r.resourceId, r.type, r.fromMemberIds, r.depth, r.browseTime, r.createdTime],
    )) as { insertId: number };
    out.push({ ...r, id: String(result.insertId) });
  }
  return out;
}

async function snapshot(hub: TestHub): Promise<Snapshot> {
  const num = (rows: Record<string, unknown>[]): Record<string, string | number>[] =>
    rows.map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, k.endsWith('id') || k === 'type' ? String(v) : Number(v)])));
  return {
    members: num(await hub.db.query(
      `SELECT id, COALESCE(share_count, 0) share, COALESCE(open_count, 0) open, COALESCE(child_member_total_count, 0) total,
              COALESCE(child_member_uv_count, 0) uv, COALESCE(child_member_save_count, 0) saved FROM member ORDER BY id`,
    )),
    childInfos: num(await hub.db.query(
      `SELECT id, COALESCE(child_member_share_count, 0) share, COALESCE(child_member_open_count, 0) open,
              COALESCE(child_member_count, 0) children, COALESCE(child_member_save_info_count, 0) saved FROM member_child_info ORDER BY id`,
    )),
    resources: num(await hub.db.query(
      `SELECT resource_type type, resource_id, share_count share, reach_count reach, uv_count uv, max_depth depth
       FROM resource_share_info WHERE share_count + reach_count > 0 ORDER BY resource_type, resource_id`,
    )),
  };
}

const cursorPosition = async (hub: TestHub): Promise<string> =>
  ((await hub.db.query('SELECT position FROM hub_cursor WHERE name = ?', [SHARE_CURSOR])) as { position: string }[])[0]?.position ?? 'none';

describe('share-aggregate and share-rebuild', () => {
  let hub: TestHub;
  let events: QueueEvents;
  const tables = [ShareTracking, Member, MemberChildInfo, ResourceShareInfo, HubShareFirstReach, HubShareFirstReferral, HubShareResource, HubCursor];

  beforeAll(async () => {
    hub = await openTestHub(__filename, { now: () => now });
    events = await testQueueEvents('marketing', hub.prefix);
    hub.startWorkers(['marketing']);
  });
  afterAll(async () => {
    await events.close();
    await clearTables(hub.db, tables);
    await hub.close();
  });
  beforeEach(async () => {
    now = START;
    await clearTables(hub.db, tables);
  });

  const run = async (job: typeof shareAggregate | typeof shareRebuild, payload: Record<string, number>): Promise<Record<string, unknown>> => {
    const { id } = await hub.enqueue(job, payload);
    const result = (await (await hub.queues.get('marketing').getJob(id))?.waitUntilFinished(events, 60_000)) as { status: string; result: Record<string, unknown> };
    expect(result.status).toBe('done');
    return result.result;
  };

  it('applies each rule of the counter table, across windows', async () => {
    const browse = ago(6 * MIN);
    const members: MemberRow[] = [
      { id: '1', createdTime: ago(400 * MIN), saveInfoTime: null }, // A
      { id: '2', createdTime: ago(400 * MIN), saveInfoTime: null }, // B
      { id: '3', createdTime: ago(3 * MIN), saveInfoTime: null }, // C: new, after the browse time
      { id: '4', createdTime: ago(400 * MIN), saveInfoTime: ago(MIN) }, // D: old, saved info
      { id: '5', createdTime: ago(400 * MIN), saveInfoTime: ago(MIN) }, // E: saved info
      { id: '6', createdTime: new Date(browse.getTime() - 10 * MIN), saveInfoTime: null }, // F: exactly browse − 10 min: new
      { id: '7', createdTime: new Date(browse.getTime() - 10 * MIN - 1_000), saveInfoTime: null }, // G: a second earlier: not new
    ];
    const childInfos: ChildInfoRow[] = [
      { id: '11', childMemberId: '2', memberId: '1', resourceId: 'r1' },
      { id: '12', childMemberId: '3', memberId: '2', resourceId: 'r1' },
      { id: '13', childMemberId: '4', memberId: '2', resourceId: 'r1' },
      { id: '14', childMemberId: '2', memberId: '1', resourceId: 'r2' },
      { id: '15', childMemberId: '4', memberId: '9', resourceId: 'r2' },
    ];
    await insertMembers(hub, members);
    await insertChildInfos(hub, childInfos);
    const row = (memberId: string | null, type: 'SHARE' | 'REACH', resourceId: string, fromMemberIds: string | null, depth: number | null) => ({
      memberId, type, resourceType: 'ARTICLE', resourceId, fromMemberIds, depth, browseTime: browse, createdTime: ago(5 * MIN),
    });
    await insertTracking(hub, [
      row('1', 'SHARE', 'r1', null, 0),
      row('2', 'SHARE', 'r1', '1', 1),
      row('3', 'REACH', 'r1', '1,2', 2),
      row('3', 'REACH', 'r1', '1,2', 2), // C again: counts opens, not a first time
      row('4', 'REACH', 'r1', '1, 2', 3),
      row('3', 'REACH', 'r1', '1', 1), // C through A: a first time through another sharer
      row('5', 'REACH', 'r2', '2', 1),
      row('4', 'REACH', 'r2', 'abc', null), // no usable sharer
      row(null, 'REACH', 'r2', '2', 9), // nobody acted: skipped
      row('6', 'REACH', 'r2', '1', 1),
      row('7', 'REACH', 'r2', '1', 1),
    ]);
    const result = await run(shareAggregate, { batchSize: 3 });
    expect(result).toMatchObject({ rows: 10, shares: 2, reaches: 8, firstReaches: 6, firstReferrals: 6, windows: 4 });
    const m = (id: string, share: number, open: number, total: number, uv: number, saved: number) => ({ id, share, open, total, uv, saved });
    const c = (id: string, share: number, open: number, children: number, saved: number) => ({ id, share, open, children, saved });
    expect(await snapshot(hub)).toEqual({
      members: [m('1', 1, 0, 3, 2, 0), m('2', 1, 0, 3, 1, 2), m('3', 0, 3, 0, 0, 0), m('4', 0, 2, 0, 0, 0), m('5', 0, 1, 0, 0, 0), m('6', 0, 1, 0, 0, 0), m('7', 0, 1, 0, 0, 0)],
      childInfos: [c('11', 1, 0, 2, 1), c('12', 0, 3, 0, 0), c('13', 0, 1, 0, 0), c('14', 0, 0, 1, 1), c('15', 0, 1, 0, 0)],
      resources: [
        { type: 'ARTICLE', resource_id: 'r1', share: 2, reach: 4, uv: 2, depth: 3 },
        { type: 'ARTICLE', resource_id: 'r2', share: 0, reach: 4, uv: 4, depth: 1 },
      ],
    });
    // The independent model agrees with the hand-worked figures.
    expect(expectedCounters(members, childInfos, await readTracking(hub))).toEqual(await snapshot(hub));
  });

  it('changes nothing when run again, and then folds only new rows', async () => {
    const data = randomShareData(11, now, { members: 60, resources: 8, rows: 400 });
    await insertMembers(hub, data.members);
    await insertChildInfos(hub, data.childInfos);
    const first = await insertTracking(hub, data.tracking.slice(0, 300));
    expect(await run(shareAggregate, { batchSize: 64 })).toMatchObject({ rows: usableCount(first) });
    const once = await snapshot(hub);
    expect(await run(shareAggregate, { batchSize: 64 })).toMatchObject({ rows: 0, windows: 0 });
    expect(await snapshot(hub)).toEqual(once);
    const second = await insertTracking(hub, data.tracking.slice(300));
    expect(await run(shareAggregate, { batchSize: 64 })).toMatchObject({ rows: usableCount(second) });
    expect(await snapshot(hub)).toEqual(expectedCounters(data.members, data.childInfos, [...first, ...second]));
  });

  it('counts every row exactly once when two aggregators run at once', async () => {
    const data = randomShareData(22, now, { members: 150, resources: 20, rows: 2_500 });
    await insertMembers(hub, data.members);
    await insertChildInfos(hub, data.childInfos);
    const rows = await insertTracking(hub, data.tracking);
    const results = await Promise.all([run(shareAggregate, { batchSize: 50 }), run(shareAggregate, { batchSize: 50 })]);
    expect(results.reduce((sum, r) => sum + Number(r.rows), 0)).toBe(usableCount(rows));
    expect(results.every((r) => Number(r.windows) > 0)).toBe(true); // both really worked, taking turns
    expect(await snapshot(hub)).toEqual(expectedCounters(data.members, data.childInfos, rows));
  });

  it('after a crash inside a window, a rerun ends as a clean run does', async () => {
    const data = randomShareData(33, now, { members: 80, resources: 10, rows: 900 });
    await insertMembers(hub, data.members);
    await insertChildInfos(hub, data.childInfos);
    const rows = await insertTracking(hub, data.tracking);
    const crashAt = rows[450]?.id ?? '0';
    // The failure strikes after the window's counters were written, at the cursor move: the whole window must roll back.
    await hub.db.query(
      `CREATE TRIGGER share_cursor_crash BEFORE UPDATE ON hub_cursor FOR EACH ROW
       BEGIN IF NEW.position > ${Number(crashAt)} THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'crash'; END IF; END`,
    );
    try {
      await expect(foldShareTracking(hub.db, { batchSize: 100, lagSeconds: 60, now, signal: new AbortController().signal })).rejects.toThrow('crash');
    } finally {
      await hub.db.query('DROP TRIGGER IF EXISTS share_cursor_crash');
    }
    const position = await cursorPosition(hub);
    expect(BigInt(position)).toBeLessThanOrEqual(BigInt(crashAt));
    // What committed is exactly the windows up to the cursor.
    const committed = rows.filter((r) => BigInt(r.id) <= BigInt(position));
    expect(committed.length).toBeGreaterThan(0);
    expect(await snapshot(hub)).toEqual(expectedCounters(data.members, data.childInfos, committed));
    // An abort between windows (shutdown) stops cleanly too.
    const abort = new AbortController();
    await expect(foldShareTracking(hub.db, { batchSize: 100, lagSeconds: 60, now, signal: abort.signal, onWindow: () => Promise.resolve(abort.abort()) })).rejects.toThrow();
    const afterAbort = await cursorPosition(hub);
    expect(BigInt(afterAbort)).toBeGreaterThan(BigInt(position));
    const rest = rows.filter((r) => BigInt(r.id) > BigInt(afterAbort));
    expect(await run(shareAggregate, { batchSize: 100 })).toMatchObject({ rows: usableCount(rest) });
    expect(await snapshot(hub)).toEqual(expectedCounters(data.members, data.childInfos, rows));
  });

  it('never skips a row whose lower id commits after a higher one', async () => {
    const data = randomShareData(44, now, { members: 30, resources: 5, rows: 60 });
    await insertMembers(hub, data.members);
    await insertChildInfos(hub, data.childInfos);
    const old = await insertTracking(hub, data.tracking.slice(0, 50));
    const young = data.tracking.slice(50, 52).map((r) => ({ ...r, createdTime: ago(2_000) }));
    const late = hub.db.createQueryRunner();
    await late.connect();
    await late.startTransaction();
    const lateInsert = (await late.query(
      `INSERT INTO share_tracking (member_id, resource_type, resource_id, type, from_member_ids, depth, browse_time, created_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      [young[0]?.memberId, young[0]?.resourceType, young[0]?.resourceId, young[0]?.type, young[0]?.fromMemberIds, young[0]?.depth, young[0]?.browseTime, young[0]?.createdTime],
    )) as { insertId: number };
    const [early] = await insertTracking(hub, young.slice(1)); // a higher id, committed first
    expect(Number(early?.id)).toBeGreaterThan(lateInsert.insertId);
    try {
      expect(await run(shareAggregate, { batchSize: 20 })).toMatchObject({ rows: usableCount(old) });
      expect(await cursorPosition(hub)).toBe(old[old.length - 1]?.id);
      await late.commitTransaction();
    } finally {
      await late.release();
    }
    now = new Date(START.getTime() + 2 * MIN); // both rows are older than the lag now
    expect(await run(shareAggregate, { batchSize: 20 })).toMatchObject({ rows: usableCount(young) });
    expect(await snapshot(hub)).toEqual(expectedCounters(data.members, data.childInfos, await readTracking(hub)));
  });

  it('the keys migration carries facts over from the text-keyed tables, and folding carries on from them', async () => {
    const data = randomShareData(66, now, { members: 80, resources: 12, rows: 1_200 });
    await insertMembers(hub, data.members);
    await insertChildInfos(hub, data.childInfos);
    const first = await insertTracking(hub, data.tracking.slice(0, 700));
    await run(shareAggregate, { batchSize: 150 });
    const facts = async (keyed: boolean): Promise<string[][]> => {
      const from = keyed ? 'JOIN hub_share_resource k USING (resource_key)' : '';
      const reach = (await hub.db.query(`SELECT CONCAT_WS('/', resource_type, resource_id, visitor_id) f FROM hub_share_first_reach ${from} ORDER BY f`)) as { f: string }[];
      const referral = (await hub.db.query(
        `SELECT CONCAT_WS('/', resource_type, resource_id, visitor_id, sharer_id) f FROM hub_share_first_referral ${from} ORDER BY f`,
      )) as { f: string }[];
      return [reach.map((r) => r.f), referral.map((r) => r.f)];
    };
    const before = await facts(true);
    expect(before[0]?.length).toBeGreaterThan(0);
    expect(before[1]?.length).toBeGreaterThan(0);
    const migration = new HubShareKeys1764600000000();
    const runner = hub.db.createQueryRunner();
    try {
      await migration.down(runner); // the tables as the previous release left them
      expect(await facts(false)).toEqual(before);
      await migration.up(runner);
    } finally {
      await runner.release();
    }
    expect(await facts(true)).toEqual(before);
    const rest = await insertTracking(hub, data.tracking.slice(700));
    await run(shareAggregate, { batchSize: 150 });
    expect(await snapshot(hub)).toEqual(expectedCounters(data.members, data.childInfos, [...first, ...rest]));
  });

  it('rebuild equals incremental on random data that arrived in several increments', async () => {
    const data = randomShareData(55, now, { members: 200, resources: 30, rows: 4_000 });
    await insertMembers(hub, data.members);
    await insertChildInfos(hub, data.childInfos);
    const sizes = [[0, 1_500, 97], [1_500, 3_000, 500], [3_000, 4_000, 1_000]] as const;
    for (const [from, to, batchSize] of sizes) {
      await insertTracking(hub, data.tracking.slice(from, to));
      await run(shareAggregate, { batchSize });
    }
    const incremental = await snapshot(hub);
    expect(incremental).toEqual(expectedCounters(data.members, data.childInfos, await readTracking(hub)));
    const rebuilt = await run(shareRebuild, { batchSize: 333 });
    expect(rebuilt).toMatchObject({ rows: 4_000 - data.unusable });
    expect(await snapshot(hub)).toEqual(incremental);
  });
});

async function readTracking(hub: TestHub): Promise<TrackingRow[]> {
  const rows = (await hub.db.query(
    `SELECT id, member_id, resource_type, resource_id, type, from_member_ids, depth, browse_time, created_time FROM share_tracking ORDER BY id`,
  )) as Record<string, unknown>[];
  return rows.map((r) => ({
    id: String(r.id),
    memberId: r.member_id === null ? null : String(r.member_id),
    resourceType: r.resource_type as string | null,
    resourceId: r.resource_id as string | null,
    type: r.type as TrackingRow['type'],
    fromMemberIds: r.from_member_ids as string | null,
    depth: r.depth as number | null,
    browseTime: r.browse_time as Date | null,
    createdTime: r.created_time as Date | null,
  }));
}
