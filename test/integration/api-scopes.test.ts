import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { JOBS } from '../../jobs';
import { buildRegistry, defineJob, done } from '../../jobs/define-job';
import { ConfigError } from '../../lib/errors';
import { buildApp } from '../../server/app';
import { openTestHub, type TestHub } from '../support/hub';
import { testConfig } from '../support/env';

/** One token per kind of scope: the default (business), `ops`, one job by name, and both kinds. */
const TOKENS = {
  crm: 'crm-token-0123456789abcdef',
  ops: 'ops-token-0123456789abcdef',
  monitor: 'mon-token-0123456789abcdef',
  dev: 'dev-token-0123456789abcdef',
} as const;
type Client = keyof typeof TOKENS;
const HUB_API_TOKENS = `crm:${TOKENS.crm},ops:${TOKENS.ops}:ops,monitor:${TOKENS.monitor}:hub-canary,dev:${TOKENS.dev}:business|ops`;

const greet = defineJob({
  name: 'test-greet',
  queue: 'messages',
  description: 'says hello',
  payload: z.strictObject({ memberId: z.string() }),
  handle: async ({ memberId }) => done({ greeted: memberId }),
});

const registry = buildRegistry([...JOBS, greet]);
const OPS_JOBS = ['sms-code-cleanup', 'hub-canary', 'hub-retention'];

describe('API token scopes', () => {
  let hub: TestHub;
  let app: FastifyInstance;

  beforeAll(async () => {
    hub = await openTestHub(__filename, { registry });
    const config = testConfig({ HUB_QUEUE_PREFIX: hub.prefix, HUB_API_TOKENS });
    app = await buildApp({ config, log: hub.log, db: hub.db, redis: hub.redis, queues: hub.queues, registry });
  });
  afterAll(async () => {
    await app.close();
    await hub.close();
  });

  const auth = (client: Client) => ({ authorization: `Bearer ${TOKENS[client]}` });
  const enqueue = (client: Client, name: string, body: object) => app.inject({ method: 'POST', url: `/api/v1/jobs/${name}`, headers: auth(client), payload: body });
  const read = (client: Client, name: string, id: string) => app.inject({ method: 'GET', url: `/api/v1/jobs/${name}/${id}`, headers: auth(client) });
  const catalogue = async (client: Client): Promise<string[]> =>
    (await app.inject({ method: 'GET', url: '/api/v1/jobs', headers: auth(client) })).json<{ jobs: { name: string }[] }>().jobs.map((j) => j.name);

  it('a token without a scope enqueues business jobs, and gets 403 naming the client and the job for ops jobs; nothing is queued', async () => {
    expect((await enqueue('crm', 'test-greet', { memberId: '1' })).statusCode).toBe(202);
    for (const [name, body] of [['hub-canary', { key: 'held', holdMs: 600_000 }], ['sms-code-cleanup', {}]] as const) {
      const refused = await enqueue('crm', name, body);
      expect(refused.statusCode).toBe(403);
      expect(refused.json()).toEqual({ error: 'forbidden', message: `client crm may not enqueue ${name}: the scope of its token (HUB_API_TOKENS) leaves it out` });
      expect(refused.body).not.toContain(TOKENS.crm);
    }
    // Scope comes before the payload: a refused client learns nothing of the job's schema.
    expect((await enqueue('crm', 'hub-canary', { nonsense: true })).statusCode).toBe(403);
    expect(await hub.queues.get('ops').count()).toBe(0);
    expect(hub.logText()).toMatch(/"client":"crm","job":"hub-canary".*"msg":"job outside the token scope refused"/);
    expect(hub.logText()).not.toContain(TOKENS.crm);
  });

  it('an ops token runs the canary on the ops queue, and no business job', async () => {
    const canary = await enqueue('ops', 'hub-canary', { key: 'ops-1' });
    expect(canary.statusCode).toBe(202);
    const { id, queue } = canary.json<{ id: string; queue: string }>();
    expect(queue).toBe('ops');
    expect((await hub.queues.get('ops').getJob(id))?.name).toBe('hub-canary');
    expect((await read('ops', 'hub-canary', id)).json()).toMatchObject({ id, name: 'hub-canary', queue: 'ops', state: 'waiting' });
    expect((await enqueue('ops', 'sms-code-cleanup', {})).statusCode).toBe(202);

    const business = await enqueue('ops', 'test-greet', { memberId: '1' });
    expect(business.statusCode).toBe(403);
    expect(business.json()).toMatchObject({ error: 'forbidden', message: expect.stringMatching(/^client ops may not enqueue test-greet: /) });

    // Reading another scope's jobs is refused as enqueueing them is, before the id is even looked at.
    const read403 = await read('crm', 'hub-canary', id);
    expect(read403.statusCode).toBe(403);
    expect(read403.json()).toEqual({ error: 'forbidden', message: 'client crm may not read the jobs of hub-canary: the scope of its token (HUB_API_TOKENS) leaves it out' });
    expect((await read('crm', 'hub-canary', 'events')).statusCode).toBe(403);
  });

  it('a scope may name single jobs: the monitor runs the canary only', async () => {
    expect((await enqueue('monitor', 'hub-canary', { key: 'monitor-1' })).statusCode).toBe(202);
    expect((await enqueue('monitor', 'sms-code-cleanup', {})).statusCode).toBe(403);
    expect((await enqueue('monitor', 'test-greet', { memberId: '1' })).statusCode).toBe(403);
  });

  it('the catalogue lists only the jobs the client may enqueue', async () => {
    const all = [...registry.keys()];
    expect(await catalogue('crm')).toEqual(all.filter((name) => !OPS_JOBS.includes(name)));
    expect(await catalogue('ops')).toEqual(OPS_JOBS);
    expect(await catalogue('monitor')).toEqual(['hub-canary']);
    expect(await catalogue('dev')).toEqual(all);
  });

  it('an unknown job is still 404 for every client, and a job of the scope keeps the usual checks', async () => {
    expect((await enqueue('monitor', 'no-such-job', {})).json()).toMatchObject({ error: 'unknown_job' });
    expect((await enqueue('dev', 'hub-canary', { key: 'bad key' })).json()).toMatchObject({ error: 'invalid_payload' });
  });

  it('refuses to start when a scope names no job of the hub, naming the client and the job, never the token', async () => {
    const config = testConfig({ HUB_QUEUE_PREFIX: hub.prefix, HUB_API_TOKENS: `crm:${TOKENS.crm},ops:${TOKENS.ops}:ops|hub-canery` });
    const error = await buildApp({ config, log: hub.log, db: hub.db, redis: hub.redis, queues: hub.queues, registry }).then(
      () => null,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual(['HUB_API_TOKENS: the scope of client ops names "hub-canery", which is no job of this hub']);
    expect((error as ConfigError).message).not.toContain(TOKENS.ops);
  });
});
