import type { QueueEvents } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { FamilyMembers } from '../../entities/marketing/family-members.entity';
import { HubCursor } from '../../entities/hub/hub-cursor.entity';
import { Member } from '../../entities/marketing/member.entity';
import type { Guardian, Student } from '../../integrations/school-tms/school-tms.client';
import type { SchoolTmsEmulator } from '../../integrations/school-tms/emulator/school-tms.emulator';
import { buildRegistry } from '../../jobs/define-job';
import { FAMILY_CURSOR, familySync } from '../../jobs/school/family-sync.job';
import { buildApp } from '../../server/app';
import { clearTables } from '../support/db';
import { openTestHub, type TestHub } from '../support/hub';
import { testQueueEvents } from '../support/queues';
import { schoolEmulator } from '../support/school-tms';

const job = { ...familySync, options: { attempts: 3, backoff: { type: 'fixed', delay: 200 } } };
const base = Date.now() - 3_600_000;
const t = (i: number): Date => new Date(base + i * 1_000);

const G1: Guardian = { id: 'G1', name: '王芳', mobile: '13900000001', relation: 'MOTHER' };
const P2: Guardian = { id: 'P2', name: '李强', mobile: '13700000002', relation: 'FATHER' };
const P3: Guardian = { id: 'P3', name: '赵敏', mobile: '13900000003', relation: 'MOTHER' };
const STRANGER: Guardian = { id: 'G9', name: '路人', mobile: '13600000009', relation: 'MOTHER' };

type Row = { member_id: string; third_member_id: string; build_type: string; name: string; sex: number; brithday: string | null; school_name: string; grade_name: string; deleted: number };

describe('family-sync', () => {
  let hub: TestHub;
  let emu: SchoolTmsEmulator;
  let events: QueueEvents;
  const tables = [FamilyMembers, Member, HubCursor];

  beforeAll(async () => {
    hub = await openTestHub(__filename, { schoolTms: true, registry: buildRegistry([job]) });
    emu = schoolEmulator(hub);
    events = await testQueueEvents('sync', hub.prefix);
    hub.startWorkers(['sync']);
    hub.startWorkers(['sync']);
  });
  afterAll(async () => {
    await events.close();
    await clearTables(hub.db, tables);
    await hub.close();
  });
  beforeEach(async () => {
    emu.clear();
    await clearTables(hub.db, tables);
    // Member 1 by mobile, 2 by ZYEDU id, 3 by both (the id wins), 4 deleted (never given children).
    await hub.db.query(
      `INSERT INTO member (id, mobile, zy_member_info, deleted) VALUES (1, '13900000001', NULL, 0), (2, '13500000000', 'P2', 0), (3, '13900000003', 'P3', 0), (4, '13600000009', NULL, 1)`,
    );
    // Another system's rows, one naming the same student id, and a ZYEDU parent row the platform keeps: never touched.
    await hub.db.query(
      `INSERT INTO family_members (member_id, third_code, build_type, third_member_id, relation, name, deleted) VALUES
       (1, 'OTHER_SYS', 'MOBILE', 's1', 'CHILDREN', '别处的孩子', 0), (1, 'ZYEDU_TMS', 'MOBILE', 'x1', 'PARENT', '家长本人', 0)`,
    );
  });

  const student = (id: string, guardians: Guardian[], o: Partial<Student> = {}): Omit<Student, 'updatedAt' | 'deleted'> & { deleted?: boolean } => ({
    id, name: `孩子${id}`, sex: 1, birthday: '2016-09-01', schoolName: '第1小学', gradeName: '三年级', guardians, ...o,
  });
  const run = async (payload: Record<string, string | number> = {}): Promise<Record<string, number | string>> => {
    const { id } = await hub.enqueue(job, payload.buildType ? payload : { pageSize: 2, ...payload });
    return finish(id);
  };
  const finish = async (id: string): Promise<Record<string, number | string>> => {
    const finished = (await (await hub.queues.get('sync').getJob(id))?.waitUntilFinished(events, 30_000)) as { status: string; result: Record<string, number | string> };
    expect(finished.status).toBe('done');
    return finished.result;
  };
  const children = async (): Promise<Row[]> =>
    (await hub.db.query(
      `SELECT member_id, third_member_id, build_type, name, sex, DATE_FORMAT(brithday, '%Y-%m-%d') AS brithday, school_name, grade_name, deleted
       FROM family_members WHERE third_code = 'ZYEDU_TMS' AND relation = 'CHILDREN' ORDER BY member_id, third_member_id`,
    )) as Row[];
  const live = async (): Promise<string[]> => (await children()).filter((r) => r.deleted === 0).map((r) => `${r.member_id}:${r.third_member_id}:${r.build_type}`);
  const untouched = async (): Promise<unknown[]> =>
    hub.db.query(`SELECT member_id, third_code, third_member_id, relation, name, deleted FROM family_members WHERE third_code <> 'ZYEDU_TMS' OR relation <> 'CHILDREN' ORDER BY id`);
  const OTHERS = [
    { member_id: '1', third_code: 'OTHER_SYS', third_member_id: 's1', relation: 'CHILDREN', name: '别处的孩子', deleted: 0 },
    { member_id: '1', third_code: 'ZYEDU_TMS', third_member_id: 'x1', relation: 'PARENT', name: '家长本人', deleted: 0 },
  ];

  it('nightly: links every guardian who is a member, by ZYEDU id first, then mobile; a rerun changes nothing', async () => {
    emu.putStudent(student('s1', [G1]), t(1));
    emu.putStudent(student('s2', [G1, P2], { sex: 0, birthday: '2018-02-03', gradeName: '一年级' }), t(2));
    emu.putStudent(student('s3', [P3]), t(3));
    emu.putStudent(student('s4', [STRANGER]), t(4));
    expect(await run()).toMatchObject({ inserted: 4, updated: 0, deleted: 0, unchanged: 0, pages: 2 });
    expect(await live()).toEqual(['1:s1:MOBILE', '1:s2:MOBILE', '2:s2:PARENTID', '3:s3:PARENTID']);
    expect((await children()).find((r) => r.member_id === '2')).toMatchObject({ name: '孩子s2', sex: 0, brithday: '2018-02-03', school_name: '第1小学', grade_name: '一年级' });
    const before = await children();
    expect(await run({ overlapSeconds: 86_400 })).toMatchObject({ inserted: 0, updated: 0, deleted: 0, unchanged: 4 });
    expect(await children()).toEqual(before);
    expect(await untouched()).toEqual(OTHERS);
  });

  it('nightly, incremental: unlinked and deleted students removed, changed ones updated, new ones added', async () => {
    emu.putStudent(student('s1', [G1]), t(1));
    emu.putStudent(student('s2', [G1, P2]), t(2));
    emu.putStudent(student('s3', [P3]), t(3));
    await run();
    emu.changeStudent('s2', { guardians: [P2] });
    emu.changeStudent('s1', { deleted: true });
    emu.changeStudent('s3', { gradeName: '四年级' });
    emu.putStudent(student('s5', [G1]));
    expect(await run()).toMatchObject({ inserted: 1, updated: 1, deleted: 2 });
    expect(await live()).toEqual(['1:s5:MOBILE', '2:s2:PARENTID', '3:s3:PARENTID']);
    expect((await children()).filter((r) => r.deleted === 1).map((r) => `${r.member_id}:${r.third_member_id}`)).toEqual(['1:s1', '1:s2']);
    expect((await children()).find((r) => r.third_member_id === 's3')?.grade_name).toBe('四年级');
    expect(await untouched()).toEqual(OTHERS);
    // A link that comes back revives its row.
    emu.changeStudent('s2', { guardians: [G1, P2] });
    expect(await run()).toMatchObject({ inserted: 0, updated: 1, deleted: 0 });
    expect(await live()).toEqual(['1:s2:MOBILE', '1:s5:MOBILE', '2:s2:PARENTID', '3:s3:PARENTID']);
  });

  it('nightly: students changed during the run end as the source has them', async () => {
    for (let i = 1; i <= 6; i++) emu.putStudent(student(`s${i}`, [G1]), t(i));
    // Before the second page: a student already read moves to another guardian, one not yet read too.
    emu.whenRequested('students', 1, () => {
      emu.changeStudent('s1', { guardians: [P2] });
      emu.changeStudent('s4', { guardians: [P3], gradeName: '五年级' });
    });
    expect(await run({ overlapSeconds: 0 })).toMatchObject({ inserted: 7, deleted: 1 });
    expect(await live()).toEqual(['1:s2:MOBILE', '1:s3:MOBILE', '1:s5:MOBILE', '1:s6:MOBILE', '2:s1:PARENTID', '3:s4:PARENTID']);
    expect((await children()).find((r) => r.third_member_id === 's4')?.grade_name).toBe('五年级');
  });

  it('on demand, by mobile or parent id: exactly the students linked to that guardian now', async () => {
    emu.putStudent(student('s1', [G1]), t(1));
    emu.putStudent(student('s2', [G1, P2]), t(2));
    expect(await run({ buildType: 'MOBILE', mobile: G1.mobile ?? '' })).toMatchObject({ inserted: 2, updated: 0, deleted: 0, members: 1, students: 2 });
    expect(await run({ buildType: 'PARENTID', parentId: 'P2' })).toMatchObject({ inserted: 1, members: 1 });
    expect(await live()).toEqual(['1:s1:MOBILE', '1:s2:MOBILE', '2:s2:PARENTID']);
    emu.changeStudent('s1', { guardians: [P3] });
    emu.changeStudent('s2', { name: '孩子s2改名' });
    expect(await run({ buildType: 'MOBILE', mobile: G1.mobile ?? '' })).toMatchObject({ inserted: 0, updated: 1, deleted: 1, unchanged: 0 });
    expect(await live()).toEqual(['1:s2:MOBILE', '2:s2:PARENTID']);
    expect(await run({ buildType: 'MOBILE', mobile: G1.mobile ?? '' })).toMatchObject({ inserted: 0, updated: 0, deleted: 0, unchanged: 1 });
    // A deleted member, or a mobile nobody has: nothing written.
    expect(await run({ buildType: 'MOBILE', mobile: STRANGER.mobile ?? '' })).toMatchObject({ inserted: 0, members: 0 });
    expect(await untouched()).toEqual(OTHERS);
  });

  it('on-demand and nightly runs racing on two workers write each child once', async () => {
    const siblings = Array.from({ length: 30 }, (_, i) => `r${i}`);
    siblings.forEach((id, i) => emu.putStudent(student(id, [G1, P2]), t(i)));
    for (let i = 0; i < 200; i++) emu.putStudent(student(`o${i}`, [{ ...STRANGER, id: `Q${i}`, mobile: `1360000${String(i).padStart(4, '0')}` }]), t(i));
    for (let round = 0; round < 3; round++) {
      const jobs = await Promise.all([
        hub.enqueue(job, { pageSize: 50, overlapSeconds: 86_400 }),
        hub.enqueue(job, { buildType: 'MOBILE', mobile: G1.mobile ?? '' }),
        hub.enqueue(job, { buildType: 'PARENTID', parentId: 'P2' }),
      ]);
      await Promise.all(jobs.map(async ({ id }) => (await hub.queues.get('sync').getJob(id))?.waitUntilFinished(events, 30_000)));
      emu.changeStudent(`r${round}`, { gradeName: `${round}班` });
    }
    const rows = await children();
    expect(rows).toHaveLength(60);
    expect(new Set(rows.map((r) => `${r.member_id}:${r.third_member_id}`)).size).toBe(60);
    expect(rows.every((r) => r.deleted === 0)).toBe(true);
    expect(await untouched()).toEqual(OTHERS);
  });

  it('a page failing halfway, a 429 and a token lapsing mid-run: the cursor never passes a failed page, the end state is a clean run’s', async () => {
    for (let i = 1; i <= 6; i++) emu.putStudent(student(`s${i}`, [i % 2 ? G1 : P2]), t(i));
    emu.inject({ kind: 'http', status: 400 }, { route: 'students', skip: 1 });
    const { id } = await hub.enqueue(job, { pageSize: 2 });
    await expect((await hub.queues.get('sync').getJob(id))?.waitUntilFinished(events, 30_000)).rejects.toThrow(/SCHOOL_TMS_HTTP_400/);
    expect(await live()).toEqual(['1:s1:MOBILE', '2:s2:PARENTID']);
    expect(((await hub.db.query('SELECT position FROM hub_cursor WHERE name = ?', [FAMILY_CURSOR])) as { position: string }[])[0]?.position).toBe(`${t(2).toISOString()}|s2`);
    emu.inject({ kind: 'rate-limit', retryAfterSeconds: 1 }, { route: 'students', skip: 1 });
    emu.inject({ kind: 'expire-token' }, { route: 'students', skip: 2 });
    await run();
    expect(await live()).toEqual(['1:s1:MOBILE', '1:s3:MOBILE', '1:s5:MOBILE', '2:s2:PARENTID', '2:s4:PARENTID', '2:s6:PARENTID']);
    expect(await run({ overlapSeconds: 86_400 })).toMatchObject({ inserted: 0, updated: 0, deleted: 0, unchanged: 6 });
  });

  it('on demand over the API: a second request while the first is queued joins it; once done, a request runs again', async () => {
    emu.putStudent(student('s1', [G1]), t(1));
    const registry = buildRegistry([job]);
    const app: FastifyInstance = await buildApp({ config: hub.config, log: hub.log, db: hub.db, redis: hub.redis, queues: hub.queues, registry });
    try {
      const post = async (query = ''): Promise<{ id: string }> => {
        const res = await app.inject({
          method: 'POST', url: `/api/v1/jobs/family-sync${query}`, payload: { buildType: 'MOBILE', mobile: G1.mobile },
          headers: { authorization: 'Bearer demo-token-change-me' },
        });
        expect(res.statusCode).toBe(202);
        return res.json<{ id: string }>();
      };
      const first = await post('?delay=1000');
      expect((await post()).id).toBe(first.id);
      expect(await finish(first.id)).toMatchObject({ inserted: 1, members: 1 });
      emu.putStudent(student('s7', [G1]));
      const again = await post();
      expect(again.id).not.toBe(first.id);
      expect(await finish(again.id)).toMatchObject({ inserted: 1, unchanged: 1 });
      expect(await live()).toEqual(['1:s1:MOBILE', '1:s7:MOBILE']);
    } finally {
      await app.close();
    }
  });

  it('refuses a payload whose key does not match its build type, naming the field', async () => {
    await expect(hub.enqueue(job, { buildType: 'MOBILE', parentId: 'P2' })).rejects.toThrow(/mobile/);
    await expect(hub.enqueue(job, { mobile: '13900000001' })).rejects.toThrow(/mobile: only with buildType MOBILE/);
  });
});
