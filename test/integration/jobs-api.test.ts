import type { QueueEvents } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { JOBS } from '../../jobs';
import { buildRegistry, defineJob, done } from '../../jobs/define-job';
import { PermanentError } from '../../lib/errors';
import { buildApp, BODY_LIMIT_BYTES } from '../../server/app';
import { idempotentJobId } from '../../server/api/jobs.routes';
import { openTestHub, type TestHub } from '../support/hub';
import { testConfig } from '../support/env';
import { testQueueEvents } from '../support/queues';

const TOKEN = 'crm-token-0123456789abcdef';
const OTHER_TOKEN = 'app-token-0123456789abcdef';

const greet = defineJob({
  name: 'test-greet',
  queue: 'messages',
  description: 'says hello',
  payload: z.strictObject({ memberId: z.string().regex(/^\d+$/), times: z.number().int().min(1).default(1) }),
  handle: async ({ memberId, times }) => done({ greeted: memberId, times }),
});

const refuse = defineJob({
  name: 'test-refuse',
  queue: 'messages',
  description: 'always refuses',
  payload: z.object({ orderNo: z.string() }),
  handle: async ({ orderNo }) => {
    throw new PermanentError('REFUND_EXCEEDS_PAID', `order ${orderNo}: refund exceeds the amount paid`);
  },
});

const registry = buildRegistry([...JOBS, greet, refuse]);

describe('the enqueue API', () => {
  let hub: TestHub;
  let app: FastifyInstance;
  let events: QueueEvents;
  const auth = { authorization: `Bearer ${TOKEN}` };

  beforeAll(async () => {
    hub = await openTestHub(__filename, { registry });
    const config = testConfig({ HUB_QUEUE_PREFIX: hub.prefix, HUB_API_TOKENS: `crm:${TOKEN},app:${OTHER_TOKEN}` });
    app = await buildApp({ config, log: hub.log, db: hub.db, redis: hub.redis, queues: hub.queues, registry });
    events = await testQueueEvents('messages', hub.prefix);
  });
  afterAll(async () => {
    await events.close();
    await app.close();
    await hub.close();
  });

  const enqueue = (name: string, body: unknown, headers: Record<string, string> = {}, query = '') =>
    app.inject({ method: 'POST', url: `/api/v1/jobs/${name}${query}`, headers: { ...auth, ...headers }, payload: body as object });

  it('202: validates, applies defaults, queues the job and reports its state', async () => {
    const res = await enqueue('test-greet', { memberId: '42' });
    expect(res.statusCode).toBe(202);
    const body = res.json<{ id: string; name: string; queue: string }>();
    expect(body).toMatchObject({ name: 'test-greet', queue: 'messages' });
    const job = await hub.queues.get('messages').getJob(body.id);
    expect(job?.data).toEqual({ memberId: '42', times: 1 });

    const pool = hub.startWorkers(['messages']);
    try {
      await job?.waitUntilFinished(events, 10_000);
    } finally {
      await pool.close();
    }
    const state = await app.inject({ method: 'GET', url: `/api/v1/jobs/test-greet/${body.id}`, headers: auth });
    expect(state.statusCode).toBe(200);
    expect(state.json()).toMatchObject({
      id: body.id,
      state: 'completed',
      result: { status: 'done', result: { greeted: '42', times: 1 } },
      failedReason: null,
      attemptsMade: 1,
    });
  });

  it('202 with delay and priority from the query', async () => {
    const res = await enqueue('test-greet', { memberId: '7' }, {}, '?delay=60000&priority=5');
    expect(res.statusCode).toBe(202);
    const job = await hub.queues.get('messages').getJob(res.json<{ id: string }>().id);
    expect(job?.opts).toMatchObject({ delay: 60_000, priority: 5 });
    expect(await job?.getState()).toBe('delayed');
  });

  it('400 names the fields of a bad payload, a bad query and malformed JSON; nothing is queued', async () => {
    const before = await hub.queues.get('messages').count();
    const bad = await enqueue('test-greet', { memberId: 'forty-two', times: 0 });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ error: 'invalid_payload' });
    const fields = bad.json<{ fields: string[] }>().fields.join('\n');
    expect(fields).toMatch(/^memberId: /m);
    expect(fields).toMatch(/^times: /m);

    const unknownField = await enqueue('test-greet', { memberId: '42', colour: 'red' });
    expect(unknownField.statusCode).toBe(400);
    expect(unknownField.json()).toEqual({ error: 'invalid_payload', message: 'invalid payload for test-greet', fields: ['(payload): Unrecognized key: "colour"'] });

    const badQuery = await enqueue('test-greet', { memberId: '1' }, {}, '?delay=soon&colour=red');
    expect(badQuery.statusCode).toBe(400);
    expect(badQuery.json<{ fields: string[] }>().fields.join('\n')).toMatch(/delay: .*\n.*colour/s);

    const malformed = await app.inject({
      method: 'POST',
      url: '/api/v1/jobs/test-greet',
      headers: { ...auth, 'content-type': 'application/json' },
      payload: '{"memberId": ',
    });
    expect(malformed.statusCode).toBe(400);
    expect(await hub.queues.get('messages').count()).toBe(before);
  });

  it('never answers 500 to malformed input', async () => {
    const odd: { payload: string; type: string; expected: number }[] = [
      { payload: '[1,2]', type: 'application/json', expected: 400 },
      { payload: '"memberId"', type: 'application/json', expected: 400 },
      { payload: 'null', type: 'application/json', expected: 400 },
      { payload: '{"memberId": "1", "__proto__": {"admin": true}}', type: 'application/json', expected: 400 },
      { payload: 'memberId=1', type: 'application/x-www-form-urlencoded', expected: 415 },
      { payload: 'memberId: 1', type: 'text/plain', expected: 400 },
      { payload: '', type: 'application/json', expected: 400 },
    ];
    for (const { payload, type, expected } of odd) {
      const res = await app.inject({ method: 'POST', url: '/api/v1/jobs/test-greet', headers: { ...auth, 'content-type': type }, payload });
      expect({ payload, status: res.statusCode }).toEqual({ payload, status: expected });
      expect(res.json()).toMatchObject({ error: expect.any(String), message: expect.any(String) });
    }
  });

  it('401 without a token or with a wrong one, on every API route', async () => {
    for (const headers of [{}, { authorization: 'Bearer wrong-token-0123456789' }, { authorization: `Basic ${TOKEN}` }]) {
      const post = await app.inject({ method: 'POST', url: '/api/v1/jobs/test-greet', headers, payload: { memberId: '1' } });
      expect(post.statusCode).toBe(401);
      expect(post.headers['www-authenticate']).toMatch(/^Bearer/);
      expect((await app.inject({ method: 'GET', url: '/api/v1/jobs', headers })).statusCode).toBe(401);
    }
  });

  it('404 for an unknown job name and for an unknown job id', async () => {
    const unknown = await enqueue('no-such-job', {});
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ error: 'unknown_job' });
    const missing = await app.inject({ method: 'GET', url: '/api/v1/jobs/test-greet/api-nobody-0', headers: auth });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ error: 'job_not_found' });
  });

  it('400 for an id naming one of BullMQ\'s own keys (never 500); every id the hub or BullMQ gives reads as 200', async () => {
    const read = (id: string) => app.inject({ method: 'GET', url: `/api/v1/jobs/test-greet/${encodeURIComponent(id)}`, headers: auth });
    // A job added without an id takes BullMQ's next number, and the queue's own keys (id, events, wait, …) exist from then on.
    const numbered = await enqueue('test-greet', { memberId: '9' }, {}, '?delay=60000');
    const keyed = await enqueue('test-greet', { memberId: '9' }, { 'idempotency-key': 'read-me' }, '?delay=60000');
    const add = async (jobId: string): Promise<string> =>
      (await hub.queues.get('messages').add('test-greet', { memberId: '9', times: 1 }, { jobId, delay: 60_000 })).id ?? '';
    // A cron slot, the key of the longest client name (101 characters), and the longest id enqueue allows.
    const added = [await add('test-greet@202611231000'), await add(idempotentJobId('c'.repeat(32), 'test-greet', 'k')), await add('x'.repeat(512))];
    const ids = [numbered.json<{ id: string }>().id, keyed.json<{ id: string }>().id, ...added];
    expect(ids[0]).toMatch(/^\d+$/);
    for (const id of ids) expect({ id, status: (await read(id)).statusCode }).toEqual({ id, status: 200 });

    const reserved = ['events', 'id', 'completed', 'limiter', 'meta', 'wait', 'paused', 'delayed', 'prioritized', 'active', 'failed', 'stalled'];
    reserved.push('stalled-check', 'waiting-children', 'marker', 'repeat', 'de', 'pc', 'priority', 'metrics', 'dn');
    for (const id of reserved) {
      const res = await read(id);
      expect({ id, status: res.statusCode }).toEqual({ id, status: 400 });
      expect(res.json()).toEqual({ error: 'invalid_job_id', message: 'invalid job id', fields: [expect.stringMatching(/^id: must not be one of BullMQ's own key names \(/)] });
    }
    expect((await read('a:b')).json()).toEqual({ error: 'invalid_job_id', message: 'invalid job id', fields: ['id: must not contain ":"'] });
    expect((await read('x'.repeat(513))).statusCode).toBe(400);
    expect((await read('api-crm-0123')).json()).toMatchObject({ error: 'job_not_found' });
    expect((await read('424242')).json()).toMatchObject({ error: 'job_not_found' });
  });

  it('413 for an oversized body', async () => {
    const res = await enqueue('test-greet', { memberId: '1', padding: 'x'.repeat(BODY_LIMIT_BYTES) });
    expect(res.statusCode).toBe(413);
    expect(res.json()).toMatchObject({ error: expect.stringMatching(/too_large/) });
  });

  it('Idempotency-Key: the same key and body give the same job; another body is 409; another client is another job', async () => {
    const key = { 'idempotency-key': 'order-1001-welcome' };
    const first = await enqueue('test-greet', { memberId: '1001' }, key, '?delay=60000');
    const again = await enqueue('test-greet', { memberId: '1001', times: 1 }, key, '?delay=60000');
    expect(first.statusCode).toBe(202);
    expect(again.statusCode).toBe(202);
    expect(again.headers['idempotent-replayed']).toBe('true');
    const id = first.json<{ id: string }>().id;
    expect(again.json<{ id: string }>().id).toBe(id);
    expect(id).toBe(idempotentJobId('crm', 'test-greet', 'order-1001-welcome'));
    expect(id).toMatch(/^api-crm-[0-9a-f]{64}$/);

    const conflict = await enqueue('test-greet', { memberId: '1002' }, key);
    expect(conflict.statusCode).toBe(409);
    expect(conflict.json()).toMatchObject({ error: 'idempotency_key_reused' });
    expect((await hub.queues.get('messages').getJob(id))?.data).toEqual({ memberId: '1001', times: 1 });

    const otherClient = await enqueue('test-greet', { memberId: '1002' }, { ...key, authorization: `Bearer ${OTHER_TOKEN}` });
    expect(otherClient.statusCode).toBe(202);
    expect(otherClient.json<{ id: string }>().id).toBe(idempotentJobId('app', 'test-greet', 'order-1001-welcome'));
  });

  it('Idempotency-Key: concurrent requests with one key make one job, and a different body loses with 409', async () => {
    const key = { 'idempotency-key': 'race-1' };
    const answers = await Promise.all([
      ...Array.from({ length: 5 }, () => enqueue('test-greet', { memberId: '1' }, key, '?delay=60000')),
      enqueue('test-greet', { memberId: '2' }, key, '?delay=60000'),
    ]);
    const ids = new Set(answers.filter((a) => a.statusCode === 202).map((a) => a.json<{ id: string }>().id));
    expect(ids.size).toBe(1);
    const stored = await hub.queues.get('messages').getJob([...ids][0] ?? '');
    const winner = stored?.data as { memberId: string };
    // Whichever body BullMQ kept, every request with the other body got 409.
    for (const [i, answer] of answers.entries()) {
      const memberId = i < 5 ? '1' : '2';
      expect(answer.statusCode).toBe(memberId === winner.memberId ? 202 : 409);
    }
  });

  it('Idempotency-Key: a key whose job failed answers 409 with the job state', async () => {
    const key = { 'idempotency-key': 'refund-77' };
    const first = await enqueue('test-refuse', { orderNo: 'NO77' }, key);
    expect(first.statusCode).toBe(202);
    const pool = hub.startWorkers(['messages']);
    try {
      await expect((await hub.queues.get('messages').getJob(first.json<{ id: string }>().id))?.waitUntilFinished(events, 10_000)).rejects.toThrow(
        /REFUND_EXCEEDS_PAID/,
      );
    } finally {
      await pool.close();
    }
    const again = await enqueue('test-refuse', { orderNo: 'NO77' }, key);
    expect(again.statusCode).toBe(409);
    expect(again.json()).toMatchObject({
      error: 'idempotency_key_failed',
      state: 'failed',
      failedReason: expect.stringMatching(/^REFUND_EXCEEDS_PAID: /),
      attemptsMade: 1,
    });
  });

  it('400 for an empty or oversized Idempotency-Key', async () => {
    const res = await enqueue('test-greet', { memberId: '1' }, { 'idempotency-key': 'k'.repeat(300) });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: 'invalid_idempotency_key' });
  });

  it('GET /api/v1/jobs lists the catalogue with each payload as JSON schema', async () => {
    const res = await app.inject({ method: 'GET', url: '/api/v1/jobs', headers: auth });
    expect(res.statusCode).toBe(200);
    const jobs = res.json<{ jobs: { name: string; queue: string; payloadSchema: { properties: Record<string, unknown>; required?: string[] } }[] }>().jobs;
    const greetEntry = jobs.find((j) => j.name === 'test-greet');
    expect(greetEntry?.queue).toBe('messages');
    expect(Object.keys(greetEntry?.payloadSchema.properties ?? {})).toEqual(['memberId', 'times']);
    expect(greetEntry?.payloadSchema.required).toEqual(['memberId']);
    expect(jobs.map((j) => j.name)).toContain('notify-dispatch');
  });
});
