import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance, FastifySchema, FastifySchemaCompiler, FastifySerializerCompiler } from 'fastify';
import { createJsonSchemaTransform } from 'fastify-type-provider-zod';
import { z } from 'zod';

export const OPENAPI_JSON_PATH = '/api/openapi.json';
export const API_DOCS_PATH = '/api/docs';

/** Only the API for other systems is documented: webhooks, the dashboard, health and metrics are not theirs to call. */
const DOCUMENTED_PREFIX = '/api/v1/';

/** The OpenAPI requirement every `/api/v1` route carries: a token of `HUB_API_TOKENS`. */
export const BEARER = [{ bearer: [] }] as const;

/** An extension key on a route schema: its body may be left out (@fastify/swagger marks every body required). */
export const OPTIONAL_BODY = 'x-optional-body';

const header = (description: string): Record<string, unknown> => ({ type: 'string', description });

/** The one error body of the API (server/http-errors.ts); some answers add details (a job's state, a refund). */
export const errorBody = z.looseObject({
  error: z.string().describe('a code for programs'),
  message: z.string().describe('a sentence for people'),
  fields: z.array(z.string()).optional().describe('`field: problem` lines, on 400'),
});

/** An error answer: the error body, the answer's description and the headers it sets (read by @fastify/swagger). */
export function errorAnswer(description: string, headers?: Record<string, Record<string, unknown>>): z.ZodType {
  return errorBody.meta(headers ? { description, headers } : { description });
}

/** Answers every `/api/v1` route may give. */
export const bearerAnswers = {
  401: errorAnswer('no token, or not one of HUB_API_TOKENS (`unauthorized`)', { 'www-authenticate': header('Bearer realm="jobhub"') }),
};

export const unavailableAnswer = errorAnswer(
  'Redis (`queue_unavailable`) or MySQL (`database_unavailable`, `database_busy`) is unreachable: nothing was done, try again after Retry-After seconds',
  { 'retry-after': header('seconds to wait') },
);

export const tooLargeAnswer = errorAnswer('the body is over 256 KiB');

/**
 * Route options that put a zod schema in the document and nowhere else: each handler validates with
 * the same schemas itself, because its checks run in an order the API promises (401, 404, 403, then
 * 400; the Idempotency-Key before the body) and a job's payload schema depends on the path, which
 * fastify's validation, run before the handler, cannot keep. Answers are serialized as they are
 * (a response schema would drop the fields it does not list).
 */
export function documented<S extends FastifySchema>(schema: S): { schema: S; validatorCompiler: FastifySchemaCompiler<unknown>; serializerCompiler: FastifySerializerCompiler<unknown> } {
  return { schema, validatorCompiler: () => () => true, serializerCompiler: () => (data) => JSON.stringify(data) };
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null;

function relaxOptionalBodies<D extends { paths?: object }>(doc: D): D {
  for (const item of Object.values(doc.paths ?? {})) {
    for (const operation of Object.values(isRecord(item) ? item : {})) {
      if (!isRecord(operation) || !(OPTIONAL_BODY in operation)) continue;
      delete operation[OPTIONAL_BODY];
      if (isRecord(operation.requestBody)) operation.requestBody.required = false;
    }
  }
  return doc;
}

/**
 * The OpenAPI 3.1 document at /api/openapi.json and its page at /api/docs, both without a token:
 * they describe the API, they act on nothing. Registered before the routes, whose schemas
 * @fastify/swagger collects as they are added. The page's scripts and styles are files of the
 * package served from this origin, so it works under the hub's CSP as it is.
 */
export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  const toJsonSchema = createJsonSchemaTransform({ skipList: [] });
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'jobhub API',
        version: '1',
        description:
          'Enqueue jobs, request refunds and read reconciliation reports. Every route needs `Authorization: Bearer <token>` with a token of HUB_API_TOKENS. ' +
          'Errors answer `{"error","message"}`, with `fields` on 400.',
      },
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'a token of HUB_API_TOKENS' } },
      },
      tags: [
        { name: 'jobs', description: 'the job catalogue, enqueueing and job state' },
        { name: 'refunds', description: 'WeChat Pay refunds' },
        { name: 'reconciliation', description: 'daily bill reconciliation reports' },
      ],
    },
    transformObject: (document) => ('openapiObject' in document ? relaxOptionalBodies(document.openapiObject) : document.swaggerObject),
    transform: (route) => (route.url.startsWith(DOCUMENTED_PREFIX) ? toJsonSchema(route) : { schema: { hide: true }, url: route.url }),
  });
  await app.register(swaggerUi, { routePrefix: API_DOCS_PATH });
  app.get(OPENAPI_JSON_PATH, { schema: { hide: true } }, async () => app.swagger());
}
