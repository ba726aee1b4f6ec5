import type { QueueEvents } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { JOBS } from '../../jobs';
import { buildRegistry } from '../../jobs/define-job';
import { buildApp } from '../../server/app';
import { testConfig } from '../support/env';
import { openTestHub, type TestHub } from '../support/hub';
import { deletePrefix, testQueueEvents } from '../support/queues';
import { auditMark, auditRows, basicAuth, BOARD_ADMIN, BOARD_ADMIN_ENV, BOARD_VIEWER, BOARD_VIEWER_ENV, greetJob, NAMED, refuseJob, writeUsersFile } from '../support/board';

const registry = buildRegistry([...JOBS, greetJob, refuseJob]);
const HOST = 'hub.example:3000';
const SAME_ORIGIN = `http://${HOST}`;
const PROXY = '10.1.2.3';

describe('named dashboard accounts, roles and single sign-on', () => {
  let hub: TestHub;
  let app: FastifyInstance;
  let events: QueueEvents;
  let users: { path: string; remove(): void };
  /** Rows of this file only: other files of this jest worker write to the same table. */
  let mark = '0';
  const audited = (where: Parameters<typeof auditRows>[1], count = 1) => auditRows(hub.db, where, { count, after: mark });

  beforeAll(async () => {
    hub = await openTestHub(__filename, { registry });
    users = await writeUsersFile(Object.values(NAMED));
    const config = testConfig({
      HUB_QUEUE_PREFIX: hub.prefix,
      ...BOARD_ADMIN_ENV,
      ...BOARD_VIEWER_ENV,
      BOARD_LOGIN_MAX_FAILURES_PER_USER: '3',
      HUB_USERS_FILE: users.path,
      HUB_TRUSTED_PROXIES: `${PROXY},fd00::/8`,
      HUB_TRUSTED_USER_HEADER: 'X-Auth-Request-Email',
      HUB_TRUSTED_ROLES: 'alice@corp.cn:admin,bob@corp.cn:operator',
    });
    mark = await auditMark(hub.db);
    app = await buildApp({ config, log: hub.log, db: hub.db, redis: hub.redis, queues: hub.queues, registry });
    events = await testQueueEvents('messages', hub.prefix);
  });
  beforeEach(async () => {
    await deletePrefix(hub.redis, `${hub.prefix}:board-login`);
  });
  afterAll(async () => {
    await events.close();
    await app.close();
    await hub.close();
    users.remove();
  });

  type Account = { username: string; password: string };
  const board = (method: 'GET' | 'PUT' | 'POST' | 'PATCH', path: string, headers: Record<string, string>, remoteAddress = '198.51.100.7', payload?: object) =>
    app.inject({ method, url: `/admin/queues${path}`, remoteAddress, headers: { host: HOST, ...headers }, ...(payload ? { payload } : {}) });
  const write = (account: Account, method: 'PUT' | 'POST' | 'PATCH', path: string, payload?: object) =>
    board(method, path, { authorization: basicAuth(account), origin: SAME_ORIGIN }, '198.51.100.7', payload);

  /** Two jobs failed for good and one delayed, on a clean messages queue. */
  async function seedJobs(): Promise<{ failed: string[]; delayed: string }> {
    const queue = hub.queues.get('messages');
    await queue.obliterate({ force: true });
    const failed = await Promise.all(['A', 'B'].map((orderNo) => hub.enqueue(refuseJob, { orderNo })));
    const pool = hub.startWorkers(['messages']);
    try {
      for (const { id } of failed) await expect((await queue.getJob(id))?.waitUntilFinished(events, 10_000)).rejects.toThrow(/NOT_ALLOWED/);
    } finally {
      await pool.close();
    }
    const delayed = await hub.enqueue(greetJob, { memberId: '1' }, { delay: 3_600_000 });
    return { failed: failed.map((f) => f.id), delayed: delayed.id };
  }

  it('lets a named operator retry a failed job, and audits it under their name after the job moved', async () => {
    const { failed } = await seedJobs();
    const queue = hub.queues.get('messages');
    const id = failed[0] ?? '';
    expect((await board('GET', '/api/queues', { authorization: basicAuth(NAMED.operator) })).statusCode).toBe(200);
    const before = Date.now();
    const res = await write(NAMED.operator, 'PUT', `/api/queues/messages/${id}/retry`);
    expect(res.statusCode).toBe(204);
    expect(await (await queue.getJob(id))?.getState()).toBe('waiting');
    const [row] = await audited({ actor: 'olga', action: 'job.retry' });
    expect(row).toMatchObject({ actorKind: 'board', role: 'operator', queue: 'messages', jobIds: [id], outcome: 'ok', statusCode: 204, sourceAddress: '198.51.100.7' });
    expect(row?.occurredAt.getTime()).toBeGreaterThanOrEqual(before - 5);
    expect(hub.logText()).toMatch(/"user":"olga".*"action":"job.retry".*"msg":"dashboard write"/);

    // Retrying every failed job is an operator's too; re-running every completed one is not.
    expect((await write(NAMED.operator, 'PUT', '/api/queues/messages/retry/failed')).statusCode).toBe(200);
    expect(await queue.getJobCountByTypes('failed')).toBe(0);
    expect((await write(NAMED.operator, 'PUT', '/api/queues/messages/retry/completed')).statusCode).toBe(403);
    await audited({ actor: 'olga', action: 'queue.retry-failed', outcome: 'ok' });
    await audited({ actor: 'olga', action: 'queue.retry-completed', outcome: 'refused', statusCode: 403 });
  });

  it("refuses an operator what removes jobs or changes them (403), leaves the jobs alone, and audits each refusal", async () => {
    const { delayed } = await seedJobs();
    const queue = hub.queues.get('messages');
    const refused: [string, 'PUT' | 'POST' | 'PATCH', string, object?][] = [
      ['queue.obliterate', 'PUT', '/api/queues/messages/obliterate', {}],
      ['queue.empty', 'PUT', '/api/queues/messages/empty'],
      ['queue.clean', 'PUT', '/api/queues/messages/clean/failed'],
      ['job.remove', 'PUT', `/api/queues/messages/${delayed}/clean`],
      ['job.add', 'POST', '/api/queues/messages/add', { name: 'test-greet', data: { memberId: '2' } }],
      ['job.update-data', 'PATCH', `/api/queues/messages/${delayed}/update-data`, { jobData: { memberId: '3' } }],
    ];
    for (const [action, method, path, payload] of refused) {
      const res = await write(NAMED.operator, method, path, payload);
      expect({ action, status: res.statusCode, body: res.json<{ error: string }>().error }).toEqual({ action, status: 403, body: 'forbidden' });
    }
    expect(await queue.getJobCountByTypes('failed')).toBe(2);
    expect((await queue.getJob(delayed))?.data).toEqual({ memberId: '1' });
    for (const [action] of refused) {
      const [row] = await audited({ actor: 'olga', action });
      expect(row).toMatchObject({ role: 'operator', outcome: 'refused', statusCode: 403 });
    }
    // The same writes are the admin's: a named admin removes the job and cleans the failed ones.
    expect((await write(NAMED.admin, 'PUT', `/api/queues/messages/${delayed}/clean`)).statusCode).toBeLessThan(300);
    expect(await queue.getJob(delayed)).toBeUndefined();
    // Bull Board's clean spares jobs that failed in its last few seconds: only the answer and the row are checked here.
    expect((await write(NAMED.admin, 'PUT', '/api/queues/messages/clean/failed')).statusCode).toBeLessThan(300);
    const [removed] = await audited({ actor: 'adam', action: 'job.remove', outcome: 'ok', role: 'admin' });
    expect(removed?.jobIds).toEqual([delayed]);
    await audited({ actor: 'adam', action: 'queue.clean', outcome: 'ok', role: 'admin' });
  });

  it('refuses every viewer every write, named or not, and audits it', async () => {
    const { failed } = await seedJobs();
    const id = failed[0] ?? '';
    for (const viewer of [NAMED.viewer, BOARD_VIEWER]) {
      expect((await board('GET', '/api/queues', { authorization: basicAuth(viewer) })).statusCode).toBe(200);
      expect((await write(viewer, 'PUT', `/api/queues/messages/${id}/retry`)).statusCode).toBe(403);
      expect((await write(viewer, 'PUT', '/api/queues/messages/pause')).statusCode).toBe(403);
      const rows = await audited({ actor: viewer.username, outcome: 'refused' }, 2);
      // Rows are written after each answer, so two quick requests may land in either order.
      expect(rows.map((r) => [r.action, r.role, r.statusCode]).sort()).toEqual([['job.retry', 'viewer', 403], ['queue.pause', 'viewer', 403]]);
    }
    expect(await (await hub.queues.get('messages').getJob(id))?.getState()).toBe('failed');
  });

  it("lets an admin pause and resume a queue, each audited; a cross-origin write, a wrong password and a throttled one are audited refused", async () => {
    const queue = hub.queues.get('messages');
    expect((await write(NAMED.admin, 'PUT', '/api/queues/messages/pause')).statusCode).toBe(200);
    expect(await queue.isPaused()).toBe(true);
    expect((await write(BOARD_ADMIN, 'PUT', '/api/queues/messages/resume')).statusCode).toBe(200);
    expect(await queue.isPaused()).toBe(false);
    await audited({ actor: 'adam', action: 'queue.pause', outcome: 'ok', statusCode: 200, queue: 'messages' });
    await audited({ actor: BOARD_ADMIN.username, action: 'queue.resume', outcome: 'ok', role: 'admin' });

    const foreign = await board('PUT', '/api/queues/messages/pause', { authorization: basicAuth(NAMED.operator), origin: 'https://evil.example' });
    expect(foreign.json()).toMatchObject({ error: 'cross_origin' });
    expect(await queue.isPaused()).toBe(false);
    await audited({ actor: 'olga', action: 'queue.pause', outcome: 'refused', statusCode: 403 });

    // The throttle counts named users as it does the env accounts: three wrong, then even the right password waits.
    const wrong = { ...NAMED.locked, password: 'Wrong-Guess-7781' };
    for (let i = 0; i < 3; i += 1) expect((await write(wrong, 'PUT', '/api/queues/messages/pause')).statusCode).toBe(401);
    expect((await write(NAMED.locked, 'PUT', '/api/queues/messages/pause')).statusCode).toBe(429);
    expect(await queue.isPaused()).toBe(false);
    const rows = await audited({ actor: 'tess', action: 'queue.pause' }, 4);
    expect(rows.map((r) => [r.outcome, r.statusCode, r.role]).sort()).toEqual([['refused', 401, null], ['refused', 401, null], ['refused', 401, null], ['refused', 429, null]]);
  });

  it('takes the signed-in name from the trusted proxy with its mapped role, and ignores the header from anywhere else', async () => {
    const sso = (name: string, remoteAddress: string, extra: Record<string, string> = {}) => ({ headers: { 'x-auth-request-email': name, ...extra }, remoteAddress });
    const read = (o: { headers: Record<string, string>; remoteAddress: string }) => board('GET', '/api/queues', o.headers, o.remoteAddress);
    const put = (o: { headers: Record<string, string>; remoteAddress: string }, path: string) => board('PUT', path, { ...o.headers, origin: SAME_ORIGIN }, o.remoteAddress);

    expect((await read(sso('alice@corp.cn', PROXY))).statusCode).toBe(200);
    expect((await read(sso('alice@corp.cn', 'fd00::17'))).statusCode).toBe(200);
    expect((await read(sso('alice@corp.cn', '::ffff:10.1.2.3'))).statusCode).toBe(200);
    // The socket's address decides, whatever X-Forwarded-For claims.
    const spoofed = await read(sso('alice@corp.cn', '203.0.113.9', { 'x-forwarded-for': PROXY }));
    expect(spoofed.statusCode).toBe(401);
    expect(spoofed.headers['www-authenticate']).toMatch(/^Basic /);
    expect((await read(sso('alice@corp.cn', '10.1.2.4'))).statusCode).toBe(401);
    // From elsewhere the header is ignored, so Basic credentials still work there, under their own name.
    expect((await board('GET', '/api/queues', { 'x-auth-request-email': 'alice@corp.cn', authorization: basicAuth(NAMED.viewer) }, '203.0.113.9')).statusCode).toBe(200);
    // A name without a role, and no `*`: refused.
    const stranger = await read(sso('mallory@corp.cn', PROXY));
    expect(stranger.statusCode).toBe(403);
    expect((await put(sso('mallory@corp.cn', PROXY), '/api/queues/messages/pause')).statusCode).toBe(403);
    const [mallory] = await audited({ actor: 'mallory@corp.cn', action: 'queue.pause' });
    expect(mallory).toMatchObject({ outcome: 'refused', statusCode: 403, role: null });

    const queue = hub.queues.get('messages');
    expect((await put(sso('bob@corp.cn', PROXY), '/api/queues/messages/obliterate')).statusCode).toBe(403);
    expect((await put(sso('bob@corp.cn', PROXY), '/api/queues/messages/pause')).statusCode).toBe(200);
    expect(await queue.isPaused()).toBe(true);
    expect((await put(sso('alice@corp.cn', PROXY), '/api/queues/messages/resume')).statusCode).toBe(200);
    expect(await queue.isPaused()).toBe(false);
    await audited({ actor: 'bob@corp.cn', action: 'queue.obliterate', outcome: 'refused', role: 'operator' });
    await audited({ actor: 'bob@corp.cn', action: 'queue.pause', outcome: 'ok', role: 'operator', sourceAddress: PROXY });
    await audited({ actor: 'alice@corp.cn', action: 'queue.resume', outcome: 'ok', role: 'admin' });
    // Ignored from elsewhere: a write there, without Basic, is a 401 from nobody.
    expect((await put(sso('alice@corp.cn', '203.0.113.9'), '/api/queues/messages/pause')).statusCode).toBe(401);
    expect(await queue.isPaused()).toBe(false);
    const anonymous = await audited({ actor: '(anonymous)', action: 'queue.pause', statusCode: 401 });
    expect(anonymous[0]).toMatchObject({ outcome: 'refused', sourceAddress: '203.0.113.9' });
  });
});
