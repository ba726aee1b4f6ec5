import { isDeepStrictEqual } from 'node:util';
import type { Job } from 'bullmq';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { RedisConnection } from '../../lib/redis';
import { z } from 'zod';
import type { JobDefinition, JobRegistry } from '../../jobs/define-job';
import { InvalidPayloadError } from '../../lib/errors';
import type { Logger } from '../../lib/logger';
import { describeIssues, idempotencyKeySchema } from '../../lib/validation';
import { jobIdSchema, prepareJob, type PreparedJob } from '../../workers/enqueue';
import type { QueueSet } from '../../workers/queues';
import { tokenForBearer } from '../auth';
import { RedisUnavailableError, sendError, withRedisTimeout } from '../http-errors';
import { assertScopesKnown, mayUseJob } from './job-scopes';
import type { JobScope, ScopedApiToken } from '../../lib/config';
import { hashedId } from '../../lib/hashed-id';
import { BEARER, bearerAnswers, documented, errorAnswer, OPTIONAL_BODY, tooLargeAnswer, unavailableAnswer } from './openapi';

export interface JobsRouteDeps {
  registry: JobRegistry;
  queues: QueueSet;
  redis: RedisConnection;
  apiTokens: readonly ScopedApiToken[];
  log: Logger;
}

const MAX_DELAY_MS = 366 * 24 * 3_600_000;
const enqueueQuery = z
  .object({
    delay: z.coerce.number().int().min(0).max(MAX_DELAY_MS).optional(),
    priority: z.coerce.number().int().min(1).max(2_097_152).optional(),
  })
  .strict();

const jobName = z.string().describe('a job of the catalogue (GET /api/v1/jobs)');
const queued = z
  .object({ id: z.string(), name: z.string(), queue: z.string() })
  .meta({ description: 'queued, or the same job again for an Idempotency-Key already seen with the same body', headers: { 'idempotent-replayed': { type: 'string', enum: ['true'], description: 'set when this is a replay' } } });
const jobView = z.object({
  id: z.string(),
  name: z.string(),
  queue: z.string(),
  state: z.enum(['waiting', 'prioritized', 'delayed', 'active', 'completed', 'failed', 'waiting-children', 'unknown']),
  progress: z.unknown().describe('what the job last reported'),
  result: z.unknown().describe('what the job returned, null until it completes'),
  failedReason: z.string().nullable(),
  attemptsMade: z.number().int(),
  createdAt: z.string().nullable().describe('ISO 8601'),
  processedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
});
const forbiddenAnswer = errorAnswer('the job is outside the token\'s scope (`forbidden`)');
const enqueueSchema = {
  summary: 'Enqueue a job',
  description: 'The body is the job\'s payload, validated against its schema (GET /api/v1/jobs serves each one); no body is an empty payload.',
  tags: ['jobs'],
  security: BEARER,
  params: z.object({ name: jobName }),
  querystring: enqueueQuery,
  headers: z.object({ 'idempotency-key': idempotencyKeySchema.optional().describe('makes the request safe to repeat: the same key from the same client names the same job') }),
  body: z.record(z.string(), z.unknown()).describe('the job\'s payload'),
  [OPTIONAL_BODY]: true,
  response: {
    202: queued,
    400: errorAnswer('the payload (`invalid_payload`), the query (`invalid_query`) or the Idempotency-Key (`invalid_idempotency_key`) is invalid'),
    ...bearerAnswers,
    403: forbiddenAnswer,
    404: errorAnswer('no job of that name (`unknown_job`)'),
    409: errorAnswer('the Idempotency-Key was used with a different body (`idempotency_key_reused`), or its job failed (`idempotency_key_failed`, with the job\'s state, failedReason and attemptsMade)'),
    413: tooLargeAnswer,
    503: unavailableAnswer,
  },
};
const statusSchema = {
  summary: 'Read a job\'s state',
  tags: ['jobs'],
  security: BEARER,
  params: z.object({ name: jobName, id: jobIdSchema }),
  response: {
    200: jobView.describe('the job, as the queue holds it'),
    400: errorAnswer('the id is not one a job can have (`invalid_job_id`)'),
    ...bearerAnswers,
    403: forbiddenAnswer,
    404: errorAnswer('no job of that name (`unknown_job`), or no such job (`job_not_found`: finished jobs are kept an hour, failed ones a week)'),
    503: unavailableAnswer,
  },
};
const catalogueSchema = {
  summary: 'List the jobs this token may enqueue',
  tags: ['jobs'],
  security: BEARER,
  response: {
    200: z.object({
      jobs: z.array(z.object({ name: z.string(), queue: z.string(), description: z.string(), payloadSchema: z.record(z.string(), z.unknown()).describe('JSON Schema of the payload') })),
    }).describe('the catalogue, limited to the jobs of the token\'s scope'),
    ...bearerAnswers,
  },
};

declare module 'fastify' {
  interface FastifyRequest {
    /** The API client of the Bearer token (`HUB_API_TOKENS`). */
    apiClient: string;
    /** The jobs that token may enqueue and read; null only before the token is checked. */
    apiScope: JobScope | null;
  }
}

/** `api-<client>-<sha256(job + key)>`: the same key from the same client always names the same job. */
export function idempotentJobId(client: string, job: string, key: string): string {
  return hashedId(`api-${client}-`, `${job}\n${key}`);
}

/** The enqueue API and the catalogue, behind Bearer tokens, each token limited to the jobs of its scope. */
export function registerJobRoutes(app: FastifyInstance, deps: JobsRouteDeps): void {
  assertScopesKnown(deps.apiTokens, deps.registry);
  const catalogue = [...deps.registry.values()].map((def) => ({
    def,
    entry: { name: def.name, queue: def.queue, description: def.description, payloadSchema: z.toJSONSchema(def.payload, { io: 'input', unrepresentable: 'any' }) },
  }));
  const mayUse = (request: FastifyRequest, def: JobDefinition): boolean => request.apiScope !== null && mayUseJob(request.apiScope, def);
  const forbidden = (request: FastifyRequest, reply: FastifyReply, def: JobDefinition, action: string): FastifyReply => {
    deps.log.warn({ client: request.apiClient, job: def.name }, 'job outside the token scope refused');
    return sendError(reply, 403, { error: 'forbidden', message: `client ${request.apiClient} may not ${action} ${def.name}: the scope of its token (HUB_API_TOKENS) leaves it out` });
  };

  void app.register(async (api) => {
    api.decorateRequest('apiClient', '');
    api.decorateRequest('apiScope', null);
    api.addHook('onRequest', (request, reply, done) => {
      const token = tokenForBearer(request.headers.authorization, deps.apiTokens);
      if (!token) {
        reply.header('www-authenticate', 'Bearer realm="jobhub"');
        // A reply sent from a callback hook ends the request: done() is not called.
        return void sendError(reply, 401, { error: 'unauthorized', message: 'a valid Bearer token is required' });
      }
      request.apiClient = token.client;
      request.apiScope = token.scope;
      done();
    });

    // Only the jobs this client may enqueue: the catalogue is its contract, and ops jobs are none of a business client's.
    api.get('/api/v1/jobs', documented(catalogueSchema), async (request) => ({ jobs: catalogue.filter(({ def }) => mayUse(request, def)).map(({ entry }) => entry) }));

    api.post<{ Params: { name: string } }>('/api/v1/jobs/:name', documented(enqueueSchema), async (request, reply) => {
      const def = deps.registry.get(request.params.name);
      if (!def) return unknownJob(reply, request.params.name);
      if (!mayUse(request, def)) return forbidden(request, reply, def, 'enqueue');
      const query = enqueueQuery.safeParse(request.query);
      if (!query.success) {
        return sendError(reply, 400, { error: 'invalid_query', message: 'invalid query', fields: describeIssues(query.error, '(query)') });
      }
      const key = readIdempotencyKey(request);
      if (key && !key.success) {
        return sendError(reply, 400, { error: 'invalid_idempotency_key', message: 'invalid Idempotency-Key', fields: describeIssues(key.error, 'Idempotency-Key') });
      }
      const jobId = key ? idempotentJobId(request.apiClient, def.name, key.data) : undefined;
      let prepared: PreparedJob;
      try {
        prepared = prepareJob(def, request.body ?? {}, { jobId, ...query.data });
      } catch (err) {
        if (!(err instanceof InvalidPayloadError)) throw err;
        return sendError(reply, 400, { error: 'invalid_payload', message: `invalid payload for ${def.name}`, fields: err.fieldErrors });
      }
      assertRedisReady(deps.redis);
      const queue = deps.queues.get(def.queue);
      if (jobId) {
        const existing = await withRedisTimeout(queue.getJob(jobId));
        if (existing) return replay(reply, def, existing, prepared);
      }
      const added = await withRedisTimeout(queue.add(prepared.name, prepared.data, prepared.opts));
      if (jobId) {
        // Two requests with one key may race past the lookup: BullMQ keeps the first, so compare with it.
        const stored = await withRedisTimeout(queue.getJob(jobId));
        if (stored && !sameData(stored.data, prepared.data)) return keyReused(reply, def);
      }
      deps.log.info({ job: def.name, jobId: added.id, client: request.apiClient }, 'job enqueued over the API');
      return reply.code(202).send({ id: added.id, name: def.name, queue: def.queue });
    });

    api.get<{ Params: { name: string; id: string } }>('/api/v1/jobs/:name/:id', documented(statusSchema), async (request, reply) => {
      const def = deps.registry.get(request.params.name);
      if (!def) return unknownJob(reply, request.params.name);
      if (!mayUse(request, def)) return forbidden(request, reply, def, 'read the jobs of');
      // Before any Redis call: an id naming one of BullMQ's own keys would be read as a job (WRONGTYPE).
      const id = jobIdSchema.safeParse(request.params.id);
      if (!id.success) return sendError(reply, 400, { error: 'invalid_job_id', message: 'invalid job id', fields: describeIssues(id.error, 'id') });
      assertRedisReady(deps.redis);
      const queue = deps.queues.get(def.queue);
      // State first: a job that finishes between the two reads then shows its final fields.
      const state = await withRedisTimeout(queue.getJobState(id.data));
      const job = await withRedisTimeout(queue.getJob(id.data));
      if (!job || job.name !== def.name) {
        return sendError(reply, 404, { error: 'job_not_found', message: `no ${def.name} job ${id.data} (finished jobs are kept an hour, failed ones a week)` });
      }
      return describeJob(def, job, state);
    });
  });
}

function readIdempotencyKey(request: FastifyRequest): ReturnType<typeof idempotencyKeySchema.safeParse> | null {
  const header = request.headers['idempotency-key'];
  if (header === undefined) return null;
  return idempotencyKeySchema.safeParse(Array.isArray(header) ? header.join(',') : header);
}

function assertRedisReady(redis: RedisConnection): void {
  if (redis.status !== 'ready') throw new RedisUnavailableError(`connection is ${redis.status}`);
}

/** JSON round trip: what Redis holds is what the payload serialises to. */
function sameData(stored: unknown, prepared: unknown): boolean {
  return isDeepStrictEqual(stored, JSON.parse(JSON.stringify(prepared ?? null)));
}

async function replay(reply: FastifyReply, def: JobDefinition, existing: Job, prepared: PreparedJob): Promise<FastifyReply> {
  if (!sameData(existing.data, prepared.data)) return keyReused(reply, def);
  const state = await withRedisTimeout(existing.getState());
  if (state === 'failed') {
    return sendError(reply, 409, {
      error: 'idempotency_key_failed',
      message: `the ${def.name} job under this Idempotency-Key failed; use a new key to try again`,
      ...describeJob(def, existing, state),
    });
  }
  reply.header('idempotent-replayed', 'true');
  return reply.code(202).send({ id: existing.id, name: def.name, queue: def.queue });
}

function keyReused(reply: FastifyReply, def: JobDefinition): FastifyReply {
  return sendError(reply, 409, {
    error: 'idempotency_key_reused',
    message: `this Idempotency-Key was already used for ${def.name} with a different body`,
  });
}

function unknownJob(reply: FastifyReply, name: string): FastifyReply {
  return sendError(reply, 404, { error: 'unknown_job', message: `no job named ${JSON.stringify(name)}; GET /api/v1/jobs lists them` });
}

function describeJob(def: JobDefinition, job: Job, state: string): Record<string, unknown> {
  const iso = (ms: number | undefined): string | null => (ms ? new Date(ms).toISOString() : null);
  return {
    id: job.id,
    name: def.name,
    queue: def.queue,
    state,
    progress: job.progress,
    result: job.returnvalue ?? null,
    failedReason: job.failedReason ?? null,
    attemptsMade: job.attemptsMade,
    createdAt: iso(job.timestamp),
    processedAt: iso(job.processedOn),
    finishedAt: iso(job.finishedOn),
  };
}
