import type { FastifyInstance } from 'fastify';
import { registry } from '../../jobs';
import { buildApp } from '../../server/app';
import { openTestHub, type TestHub } from '../support/hub';
import { testConfig } from '../support/env';
import { openApi31Problems } from '../support/openapi-structure';

const TOKEN = 'openapi-token-0123456789abcdef';

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : {});

/**
 * Every route of the app with its methods, read from `printRoutes()`'s radix tree: a node's path
 * is its ancestors' segments joined, its methods follow in parentheses.
 */
function routesOf(app: FastifyInstance): Array<{ path: string; method: string }> {
  const routes: Array<{ path: string; method: string }> = [];
  const stack: string[] = [];
  for (const line of app.printRoutes().split('\n')) {
    const node = /^(.*?)(?:├── |└── )(.+?)(?: \(([^)]*)\))?$/.exec(line);
    if (!node) continue;
    const depth = [...(node[1] ?? '')].length / 4;
    stack.length = depth;
    stack.push(node[2] ?? '');
    const methods = node[3];
    if (!methods || methods === '-') continue;
    for (const method of methods.split(', ')) routes.push({ path: stack.join(''), method });
  }
  return routes;
}

/** Fastify's `/a/:b` as OpenAPI's `/a/{b}`. */
const openApiPath = (path: string): string => path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

describe('the OpenAPI document and its page', () => {
  let hub: TestHub;
  let app: FastifyInstance;
  let doc: Json;

  beforeAll(async () => {
    hub = await openTestHub(__filename);
    const config = testConfig({ HUB_API_TOKENS: `ops:${TOKEN}`, HUB_QUEUE_PREFIX: hub.prefix });
    app = await buildApp({ config, log: hub.log, db: hub.db, redis: hub.redis, queues: hub.queues, registry });
    const answer = await app.inject({ method: 'GET', url: '/api/openapi.json' });
    expect(answer.statusCode).toBe(200);
    expect(answer.headers['content-type']).toMatch(/^application\/json/);
    doc = answer.json<Json>();
  });
  afterAll(async () => {
    await app.close();
    await hub.close();
  });

  const operations = (): Array<{ path: string; method: string; op: Json }> =>
    Object.entries(obj(doc.paths)).flatMap(([path, item]) => Object.entries(obj(item)).map(([method, op]) => ({ path, method, op: obj(op) })));

  it('is OpenAPI 3.1 and valid', () => {
    expect(String(doc.openapi)).toMatch(/^3\.1\./);
    expect(openApi31Problems(doc)).toEqual([]);
  });

  it('fails the validation on a broken document (the check can fail)', () => {
    const broken = JSON.parse(JSON.stringify(doc)) as Json;
    const enqueue = obj(obj(obj(broken.paths)['/api/v1/jobs/{name}']).post);
    delete obj(obj(enqueue.responses)['202']).description;
    enqueue.parameters = [];
    obj(obj(obj(broken.components).securitySchemes).bearer).type = 'token';
    const problems = openApi31Problems(broken).join('\n');
    expect(problems).toMatch(/202 must have required property 'description'/);
    expect(problems).toMatch(/path parameter name is not declared/);
    expect(problems).toMatch(/allowed values/);
  });

  it('has every /api/v1 route fastify serves, with its method, and nothing else', () => {
    const served = routesOf(app).filter((r) => r.path.startsWith('/api/v1/') && r.method !== 'HEAD');
    expect(served.map((r) => `${r.method} ${r.path}`)).toEqual(expect.arrayContaining([
      'GET /api/v1/jobs',
      'GET /api/v1/jobs/:name/:id',
      'GET /api/v1/reconciliation/runs',
      'GET /api/v1/reconciliation/runs/:id/items',
      'GET /api/v1/refunds/:outRefundNo',
      'POST /api/v1/jobs/:name',
      'POST /api/v1/refunds',
    ]));
    const documented = operations().map(({ path, method }) => `${method.toUpperCase()} ${path}`);
    expect(documented.sort()).toEqual(served.map((r) => `${r.method} ${openApiPath(r.path)}`).sort());
    // Webhooks, the dashboard, health and metrics exist but are not for API clients.
    expect(routesOf(app).some((r) => r.path.startsWith('/webhooks/'))).toBe(true);
    expect(Object.keys(obj(doc.paths)).every((p) => p.startsWith('/api/v1/'))).toBe(true);
  });

  it('describes request bodies, parameters and answers from the routes\' schemas', () => {
    for (const { path, method, op } of operations()) {
      const at = `${method.toUpperCase()} ${path}`;
      if (method === 'post') expect([at, Object.keys(obj(obj(op.requestBody).content))]).toEqual([at, ['application/json']]);
      expect([at, op.summary]).toEqual([at, expect.any(String)]);
      const responses = obj(op.responses);
      expect([at, Object.keys(responses)]).toEqual([at, expect.arrayContaining(['401'])]);
      expect([at, Object.keys(responses).some((s) => s.startsWith('2'))]).toEqual([at, true]);
      for (const [status, r] of Object.entries(responses)) {
        expect([at, status, obj(r).description]).not.toEqual([at, status, 'Default Response']);
      }
    }
    const paths = obj(doc.paths);
    const refund = obj(obj(paths['/api/v1/refunds']).post);
    const body = obj(obj(obj(obj(obj(refund.requestBody).content)['application/json']).schema));
    expect(Object.keys(obj(body.properties)).sort()).toEqual(['amount', 'outTradeNo', 'paymentOrderId', 'reason']);
    expect(body.required).toEqual(['amount']);
    expect(body.additionalProperties).toBe(false);
    expect(refund.parameters).toEqual(expect.arrayContaining([expect.objectContaining({ in: 'header', name: 'idempotency-key', required: true })]));
    expect(Object.keys(obj(refund.responses)).sort()).toEqual(['202', '400', '401', '404', '409', '413', '422', '503']);

    const enqueue = obj(obj(paths['/api/v1/jobs/{name}']).post);
    expect(obj(enqueue.requestBody).required).toBe(false); // no body is an empty payload
    expect(obj(refund.requestBody).required).toBe(true);
    expect(Object.keys(obj(enqueue.responses)).sort()).toEqual(['202', '400', '401', '403', '404', '409', '413', '503']);
    expect(obj(obj(obj(enqueue.responses)['503']).headers)['retry-after']).toBeDefined();
    expect(obj(obj(obj(enqueue.responses)['401']).headers)['www-authenticate']).toBeDefined();
    const params = (enqueue.parameters as Json[]).map((p) => `${String(p.in)}:${String(p.name)}`).sort();
    expect(params).toEqual(['header:idempotency-key', 'path:name', 'query:delay', 'query:priority']);

    const items = obj(obj(paths['/api/v1/reconciliation/runs/{id}/items']).get);
    const kind = (items.parameters as Json[]).find((p) => p.name === 'kind');
    expect(obj(obj(kind).schema).enum).toContain('AMOUNT_MISMATCH');
  });

  it('defines the Bearer scheme and requires it on every operation', () => {
    expect(obj(obj(doc.components).securitySchemes).bearer).toEqual(expect.objectContaining({ type: 'http', scheme: 'bearer' }));
    for (const { path, method, op } of operations()) expect([method, path, op.security]).toEqual([method, path, expect.arrayContaining([{ bearer: [] }])]);
  });

  it('answers the document and the page without a token, and the API still asks for one', async () => {
    expect((await app.inject({ method: 'GET', url: '/api/v1/jobs' })).statusCode).toBe(401);
    expect((await app.inject({ method: 'GET', url: '/api/v1/jobs', headers: { authorization: `Bearer ${TOKEN}` } })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/api/docs/json' })).json()).toEqual(doc);
  });

  it('serves /api/docs as a page that loads nothing from another host, under the hub\'s own CSP', async () => {
    const csp = (await app.inject({ method: 'GET', url: '/healthz' })).headers['content-security-policy'];
    for (const url of ['/api/docs', '/api/docs/']) {
      const page = await app.inject({ method: 'GET', url, headers: { host: 'hub.example:3000' } });
      expect(page.statusCode).toBe(200);
      expect(page.headers['content-type']).toMatch(/^text\/html/);
      expect(page.headers['content-security-policy']).toBe(csp);
      expect(page.body).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/); // no inline script: script-src 'self' holds
      const links = [...page.body.matchAll(/\b(?:src|href)="([^"]*)"/g)].map((m) => m[1] ?? '');
      expect(links.length).toBeGreaterThanOrEqual(5);
      for (const link of links) {
        const resolved = new URL(link, `http://hub.example:3000${url}`);
        expect([link, resolved.origin]).toEqual([link, 'http://hub.example:3000']);
        const asset = await app.inject({ method: 'GET', url: resolved.pathname });
        expect([link, asset.statusCode]).toEqual([link, 200]);
      }
    }
    // Swagger UI would send the document to validator.swagger.io unless told not to.
    const init = await app.inject({ method: 'GET', url: '/api/docs/static/swagger-initializer.js' });
    expect(init.body).toMatch(/validatorUrl: null/);
    expect(init.body).toMatch(/resolveUrl\('\.\/json'\)/);
  });
});
