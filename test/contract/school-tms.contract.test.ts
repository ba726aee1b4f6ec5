import { PermanentError, RateLimitedError, RetryableError } from '../../lib/errors';
import { FEED_START, type FeedPosition, type School } from '../../integrations/school-tms/school-tms.client';
import { SchoolTmsEmulator } from '../../integrations/school-tms/emulator/school-tms.emulator';
import { LiveSchoolTmsClient } from '../../integrations/school-tms/school-tms.live';
import { failure } from '../support/failure';

/** The live client against the emulator over real HTTP. */

const CLIENT = { clientId: 'hub-contract', clientSecret: 'contract-secret' };
let emu: SchoolTmsEmulator;
let clock = new Date('2026-11-20T02:00:00.000Z');
const at = (iso: string): Date => new Date(iso);
const client = (o: Partial<typeof CLIENT> & { timeoutMs?: number } = {}): LiveSchoolTmsClient =>
  new LiveSchoolTmsClient({ baseUrl: emu.baseUrl, ...CLIENT, ...o, timeoutMs: o.timeoutMs ?? 5_000 });


/** Every school of the feed, page by page from `from`. */
async function readAll(c: LiveSchoolTmsClient, from: FeedPosition, limit: number): Promise<{ items: School[]; pages: number }> {
  const items: School[] = [];
  let pages = 0;
  for (let position: FeedPosition | null = from; position; ) {
    const page = await c.schools(position, limit);
    items.push(...page.items);
    pages += 1;
    position = page.next;
  }
  return { items, pages };
}

const school = (id: string, name = `学校${id}`): Omit<School, 'updatedAt' | 'deleted'> => ({
  id, name, province: '江苏', city: '南京', address: `路${id}号`, status: 1, modifyId: '9', modifyName: '管理员',
});

describe('ZYEDU_TMS client against the emulator', () => {
  beforeAll(async () => {
    emu = await SchoolTmsEmulator.start({ now: () => clock });
    emu.addClient(CLIENT.clientId, CLIENT.clientSecret);
    // Seven schools at one instant (ties across page boundaries), two later, one of them deleted.
    for (const id of ['7', '3', '12', '5', '1', '30', '9']) emu.putSchool(school(id), at('2026-11-20T01:00:00.000Z'));
    emu.putSchool(school('2'), at('2026-11-20T01:30:00.000Z'));
    emu.putSchool({ ...school('4'), deleted: true }, at('2026-11-20T01:45:00.000Z'));
    emu.putStudent({ id: 's1', name: '小明', sex: 1, birthday: '2015-03-04', schoolName: '学校1', gradeName: '三年级', guardians: [{ id: 'p1', name: '王芳', mobile: '13900000001', relation: 'MOTHER' }] });
    emu.putStudent({ id: 's2', name: '小红', sex: 0, birthday: '2017-05-06', schoolName: '学校1', gradeName: '一年级', guardians: [{ id: 'p1', name: '王芳', mobile: '13900000001', relation: 'MOTHER' }] });
    emu.putStudent({ id: 's3', name: '小刚', sex: 1, birthday: null, schoolName: null, gradeName: null, guardians: [{ id: 'p1', name: '王芳', mobile: '13900000001', relation: 'MOTHER' }], deleted: true });
  });
  afterAll(async () => {
    await emu.stop();
  });

  it('pages by (updated_at, id) through ties, each school once, and says when the feed ends', async () => {
    const { items, pages } = await readAll(client(), FEED_START, 3);
    expect(items.map((s) => s.id)).toEqual(['1', '3', '5', '7', '9', '12', '30', '2', '4']);
    expect(pages).toBe(3);
    expect(items.find((s) => s.id === '4')).toMatchObject({ deleted: true });
    expect(items[0]).toMatchObject({ name: '学校1', province: '江苏', status: 1, modifyId: '9', modifyName: '管理员', updatedAt: '2026-11-20T01:00:00.000Z', deleted: false });
    // From a position inside the ties: strictly after it; without an id: everything of that instant.
    expect((await readAll(client(), { updatedAfter: '2026-11-20T01:00:00.000Z', afterId: '9' }, 3)).items.map((s) => s.id)).toEqual(['12', '30', '2', '4']);
    expect((await readAll(client(), { updatedAfter: '2026-11-20T01:30:00.000Z' }, 10)).items.map((s) => s.id)).toEqual(['2', '4']);
  });

  it('a changed record moves to the end of the feed', async () => {
    clock = new Date('2026-11-20T02:10:00.000Z');
    emu.changeSchool('5', { name: '学校五（新址）' });
    const page = await client().schools({ updatedAfter: '2026-11-20T01:45:00.000Z', afterId: '4' }, 10);
    expect(page.items.map((s) => [s.id, s.name])).toEqual([['5', '学校五（新址）']]);
    expect(page.next).toBeNull();
  });

  it('finds the students of a guardian by mobile or parent id, deleted ones left out', async () => {
    const byMobile = await client().studentsOfParent({ mobile: '13900000001' });
    expect(byMobile.map((s) => s.id).sort()).toEqual(['s1', 's2']);
    expect(byMobile.find((s) => s.id === 's1')).toMatchObject({ name: '小明', sex: 1, birthday: '2015-03-04', schoolName: '学校1', gradeName: '三年级', guardians: [{ id: 'p1', mobile: '13900000001' }] });
    expect((await client().studentsOfParent({ parentId: 'p1' })).map((s) => s.id).sort()).toEqual(['s1', 's2']);
    expect(await client().studentsOfParent({ mobile: '13900000009' })).toEqual([]);
  });

  it('grants one token and reuses it; an expired token is refreshed once and the call made again', async () => {
    const c = client();
    const issued = emu.tokensIssued();
    await c.schools(FEED_START, 2);
    await c.schools(FEED_START, 2);
    expect(emu.tokensIssued()).toBe(issued + 1);
    emu.expireTokens();
    const calls = emu.calls('schools');
    expect((await c.schools(FEED_START, 2)).items).toHaveLength(2);
    expect(emu.calls('schools')).toBe(calls + 2);
    expect(emu.tokensIssued()).toBe(issued + 2);
  });

  it('ten concurrent calls on a cold client share one grant', async () => {
    const c = client();
    const issued = emu.tokensIssued();
    await Promise.all(Array.from({ length: 10 }, () => c.schools(FEED_START, 1)));
    expect(emu.tokensIssued()).toBe(issued + 1);
  });

  it('a 401 that survives the refresh is permanent, after exactly one retry; bad credentials too', async () => {
    const c = client();
    await c.schools(FEED_START, 1);
    emu.inject({ kind: 'http', status: 401 }, { route: 'schools', times: 2 });
    const calls = emu.calls('schools');
    const err = await failure(c.schools(FEED_START, 1));
    expect(err).toBeInstanceOf(PermanentError);
    expect(err).toMatchObject({ code: 'SCHOOL_TMS_UNAUTHORIZED' });
    expect(emu.calls('schools')).toBe(calls + 2);
    expect(await failure(client({ clientSecret: 'wrong' }).schools(FEED_START, 1))).toMatchObject({ code: 'SCHOOL_TMS_BAD_CLIENT' });
  });

  it('429 is a rate limit honouring Retry-After; 5xx and timeouts are retryable; a bad request is permanent', async () => {
    const c = client({ timeoutMs: 300 });
    emu.inject({ kind: 'rate-limit', retryAfterSeconds: 7 }, { route: 'students' });
    const limited = await failure(c.students(FEED_START, 5));
    expect(limited).toBeInstanceOf(RateLimitedError);
    expect((limited as RateLimitedError).retryAfterMs).toBe(7_000);
    for (const status of [500, 502, 503]) {
      emu.inject({ kind: 'http', status }, { route: 'schools' });
      expect(await failure(c.schools(FEED_START, 5))).toBeInstanceOf(RetryableError);
    }
    emu.inject({ kind: 'timeout', ms: 1_000 }, { route: 'schools' });
    expect(await failure(c.schools(FEED_START, 5))).toBeInstanceOf(RetryableError);
    const tooMany = await failure(c.schools(FEED_START, 501));
    expect(tooMany).toBeInstanceOf(PermanentError);
    expect(tooMany).toMatchObject({ code: 'SCHOOL_TMS_HTTP_400' });
  });

  it('a fault can wait for the Nth request: the third page fails, the first two pass', async () => {
    const c = client();
    emu.inject({ kind: 'http', status: 503 }, { route: 'schools', skip: 2 });
    const first = await c.schools(FEED_START, 3);
    const second = await c.schools(first.next ?? FEED_START, 3);
    expect(await failure(c.schools(second.next ?? FEED_START, 3))).toBeInstanceOf(RetryableError);
    expect((await c.schools(second.next ?? FEED_START, 3)).items.length).toBeGreaterThan(0);
  });
});
