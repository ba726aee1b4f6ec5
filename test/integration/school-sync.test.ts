import type { QueueEvents } from 'bullmq';
import { FeederSchool } from '../../entities/marketing/feeder-school.entity';
import { HubCursor } from '../../entities/hub/hub-cursor.entity';
import type { SchoolTmsEmulator } from '../../integrations/school-tms/emulator/school-tms.emulator';
import { buildRegistry } from '../../jobs/define-job';
import { SCHOOL_CURSOR, schoolSync } from '../../jobs/school/school-sync.job';
import { clearTables } from '../support/db';
import { openTestHub, type TestHub } from '../support/hub';
import { testQueueEvents } from '../support/queues';
import { schoolEmulator } from '../support/school-tms';

/** The job as registered, with a short fixed backoff so a retried attempt comes within the test. */
const job = { ...schoolSync, options: { attempts: 3, backoff: { type: 'fixed', delay: 200 } } };
const MIN = 60_000;
const base = Date.now() - 60 * MIN;
/** The i-th second after the base: explicit source times, so the feed's order is the test's. */
const t = (i: number): Date => new Date(base + i * 1_000);

type Row = { third_id: string; name: string; city: string; status: number; third_modify_id: string; third_modify_name: string; deleted: number; updated_time: string };

describe('school-sync', () => {
  let hub: TestHub;
  let emu: SchoolTmsEmulator;
  let events: QueueEvents;

  beforeAll(async () => {
    hub = await openTestHub(__filename, { schoolTms: true, registry: buildRegistry([job]) });
    emu = schoolEmulator(hub);
    events = await testQueueEvents('sync', hub.prefix);
    hub.startWorkers(['sync']);
  });
  afterAll(async () => {
    await events.close();
    await clearTables(hub.db, [FeederSchool, HubCursor]);
    await hub.close();
  });
  beforeEach(async () => {
    emu.clear();
    await clearTables(hub.db, [FeederSchool, HubCursor]);
  });

  const put = (id: number, at: Date, o: { name?: string; deleted?: boolean } = {}): void => {
    emu.putSchool({ id: String(id), name: o.name ?? `第${id}小学`, province: '江苏', city: `市${id}`, address: null, status: 1, modifyId: String(900 + id), modifyName: `编辑${id}`, deleted: o.deleted ?? false }, at);
  };
  const run = async (payload: Record<string, number> = {}): Promise<Record<string, number | string>> => {
    const { id } = await hub.enqueue(job, { pageSize: 3, ...payload });
    const finished = (await (await hub.queues.get('sync').getJob(id))?.waitUntilFinished(events, 30_000)) as { status: string; result: Record<string, number | string> };
    expect(finished.status).toBe('done');
    return finished.result;
  };
  const rows = async (): Promise<Row[]> =>
    (await hub.db.query(
      `SELECT third_id, name, city, status, third_modify_id, third_modify_name, deleted, DATE_FORMAT(updated_time, '%Y-%m-%d %H:%i:%s') AS updated_time FROM feeder_school ORDER BY third_id + 0`,
    )) as Row[];
  /** What feeder_school should hold: every school the source has that was live when read. */
  const expected = (ids: number[], names: Record<number, string> = {}, deleted: number[] = []): Partial<Row>[] =>
    ids.map((id) => ({ third_id: String(id), name: names[id] ?? `第${id}小学`, city: `市${id}`, status: 1, third_modify_id: String(900 + id), third_modify_name: `编辑${id}`, deleted: deleted.includes(id) ? 1 : 0 }));
  const cursor = async (): Promise<string> => ((await hub.db.query('SELECT position FROM hub_cursor WHERE name = ?', [SCHOOL_CURSOR])) as { position: string }[])[0]?.position ?? '';
  const withoutTimes = (r: Row[]): Partial<Row>[] => r.map(({ updated_time: _u, ...rest }) => rest);

  it('inserts every live school; a rerun re-reads the overlap and rewrites nothing', async () => {
    for (let i = 1; i <= 12; i++) put(i, t(i));
    put(13, t(13), { deleted: true });
    expect(await run()).toMatchObject({ inserted: 12, updated: 0, deleted: 0, unchanged: 0, pages: 5 });
    expect(withoutTimes(await rows())).toEqual(expected([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]));
    expect(await cursor()).toBe(`${t(13).toISOString()}|13`);
    const before = await rows();
    expect(await run({ overlapSeconds: 86_400 })).toMatchObject({ inserted: 0, updated: 0, deleted: 0, unchanged: 12 });
    expect(await rows()).toEqual(before);
  });

  it('applies updates, deletes and a late commit inside the overlap; misses only what is older than it', async () => {
    for (let i = 1; i <= 6; i++) put(i, t(i));
    await run();
    put(2, new Date(), { name: '第2小学（新校区）' });
    put(3, new Date(), { deleted: true });
    put(7, new Date());
    // Committed late at the source: its time is before the cursor, within the 5-minute overlap.
    put(8, new Date(t(6).getTime() - 2 * MIN));
    // Older than the overlap reaches: the documented miss a full re-read (overlap of a day) repairs.
    put(9, new Date(t(6).getTime() - 10 * MIN));
    expect(await run()).toMatchObject({ inserted: 2, updated: 1, deleted: 1, unchanged: 4 });
    expect(withoutTimes(await rows())).toEqual(expected([1, 2, 3, 4, 5, 6, 7, 8], { 2: '第2小学（新校区）' }, [3]));
    expect(await run()).toMatchObject({ inserted: 0, updated: 0, deleted: 0 });
    expect(await run({ overlapSeconds: 86_400 })).toMatchObject({ inserted: 1, updated: 0, deleted: 0 });
    expect((await rows()).map((r) => r.third_id)).toContain('9');
  });

  it('a school changed during a run is read again at the end of the feed, and ends as the source has it', async () => {
    for (let i = 1; i <= 9; i++) put(i, t(i));
    // Before the second page is answered: one school already read changes, one not yet read changes.
    emu.whenRequested('schools', 1, () => {
      put(1, new Date(), { name: '第1小学（改名）' });
      put(8, new Date(), { name: '第8小学（改名）' });
    });
    expect(await run({ overlapSeconds: 0 })).toMatchObject({ inserted: 9, updated: 1, deleted: 0 });
    expect(withoutTimes(await rows())).toEqual(expected([1, 2, 3, 4, 5, 6, 7, 8, 9], { 1: '第1小学（改名）', 8: '第8小学（改名）' }));
  });

  it('a page failing halfway leaves the cursor after the last committed page; the rerun ends where a clean run does', async () => {
    for (let i = 1; i <= 9; i++) put(i, t(i));
    emu.inject({ kind: 'http', status: 400 }, { route: 'schools', skip: 1 });
    const { id } = await hub.enqueue(job, { pageSize: 3 });
    await expect((await hub.queues.get('sync').getJob(id))?.waitUntilFinished(events, 30_000)).rejects.toThrow(/SCHOOL_TMS_HTTP_400/);
    expect((await rows()).map((r) => r.third_id)).toEqual(['1', '2', '3']);
    expect(await cursor()).toBe(`${t(3).toISOString()}|3`);
    await run();
    expect(withoutTimes(await rows())).toEqual(expected([1, 2, 3, 4, 5, 6, 7, 8, 9]));
    expect(await cursor()).toBe(`${t(9).toISOString()}|9`);
  });

  it('a 5xx retries the run, a 429 pauses the queue for Retry-After, a token lapsing mid-run is refreshed: all end complete', async () => {
    for (let i = 1; i <= 9; i++) put(i, t(i));
    emu.inject({ kind: 'http', status: 503 }, { route: 'schools', skip: 1 });
    emu.inject({ kind: 'rate-limit', retryAfterSeconds: 1 }, { route: 'schools', skip: 3 });
    emu.inject({ kind: 'expire-token' }, { route: 'schools', skip: 5 });
    const tokens = emu.tokensIssued();
    await run();
    expect(withoutTimes(await rows())).toEqual(expected([1, 2, 3, 4, 5, 6, 7, 8, 9]));
    expect(emu.tokensIssued()).toBeGreaterThan(tokens);
    expect(await cursor()).toBe(`${t(9).toISOString()}|9`);
  });

  it('is deduplicated while queued or running, and runs again once finished (not a once-ever id)', async () => {
    put(1, t(1));
    // The first waits a second (delayed), so the second is certainly added while it is still queued.
    const a = await hub.enqueue(job, { pageSize: 3 }, { delay: 1_000 });
    const b = await hub.enqueue(job, { pageSize: 3 });
    expect(b.id).toBe(a.id);
    await (await hub.queues.get('sync').getJob(a.id))?.waitUntilFinished(events, 30_000);
    put(2, new Date());
    expect(await run()).toMatchObject({ inserted: 1 });
  });
});
