import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { DataSource } from 'typeorm';
import type { AuditActorKind, AuditEntry, AuditOutcome } from '../entities/hub/hub-audit.entity';
import type { JobRegistry } from '../jobs/define-job';
import type { JobScope, ScopedApiToken } from '../lib/config';
import type { Logger } from '../lib/logger';
import { tokenForBearer } from './auth';
import { AuditWriter } from './audit-writer';

/**
 * The `hub_audit` row of every write asked of the web process: the dashboard's write routes (noted
 * by the board's login hook, which knows the person and the action) and the API's writes (derived
 * here from the request and the answer). Handed to the AuditWriter in `onResponse`, after the
 * action, its outcome read from the status; the app's close waits until every row is written.
 */

export interface AuditNote {
  actor: string | null;
  actorKind: AuditActorKind;
  role: string | null;
  action: string;
  queue: string | null;
  jobIds: string[] | null;
}

const notes = new WeakMap<FastifyRequest, AuditNote>();
const answers = new WeakMap<FastifyRequest, string>();

/** Marks a request for an audit row; a later note replaces an earlier one (a name tried, then the person proved). */
export function noteAudit(request: FastifyRequest, note: AuditNote): void {
  notes.set(request, note);
}

export interface AuditHookDeps {
  db: DataSource;
  apiTokens: readonly ScopedApiToken[];
  registry: JobRegistry;
  log: Logger;
  now: () => Date;
}

/** Past this, an answer is not kept for the detail: the row stores at most a couple of thousand characters of it. */
const ANSWER_KEEP_CHARS = 16_384;

export function outcomeOf(status: number): AuditOutcome {
  if (status === 401 || status === 403 || status === 429) return 'refused';
  return status < 400 ? 'ok' : 'failed';
}

/** `business|ops|job-name`: the scope as HUB_API_TOKENS writes it. */
function scopeText(scope: JobScope): string {
  return [...(scope.business ? ['business'] : []), ...(scope.ops ? ['ops'] : []), ...scope.jobs].join('|') || 'none';
}

function header(request: FastifyRequest, name: string): string | null {
  const value = request.headers[name];
  return (Array.isArray(value) ? value.join(',') : value) ?? null;
}

function parsedAnswer(request: FastifyRequest): Record<string, unknown> | null {
  const text = answers.get(request);
  if (text === undefined) return null;
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : { answer: value };
  } catch {
    return { answer: text };
  }
}

const text = (value: unknown): string | null => (typeof value === 'string' && value !== '' ? value : null);

/** The API writes: what each one is, read from the request and the answer. */
function apiEntry(request: FastifyRequest, answer: Record<string, unknown> | null, deps: AuditHookDeps): Omit<AuditEntry, 'outcome'> | null {
  const route = request.routeOptions.url;
  if (request.method !== 'POST' || (route !== '/api/v1/jobs/:name' && route !== '/api/v1/refunds')) return null;
  // The enqueue routes' own check has named the client already; the refund route's has not.
  const token = request.apiScope ? { client: request.apiClient, scope: request.apiScope } : tokenForBearer(request.headers.authorization, deps.apiTokens);
  const who = { actor: token?.client ?? null, actorKind: 'api' as const, role: token ? scopeText(token.scope) : null };
  if (route === '/api/v1/refunds') {
    const body = (request.body ?? {}) as Record<string, unknown>;
    const key = text(answer?.outRefundNo) ?? text(body.outTradeNo) ?? text(body.paymentOrderId) ?? header(request, 'idempotency-key');
    return { ...who, action: 'refund.request', queue: null, jobIds: null, businessKey: key };
  }
  const name = (request.params as { name?: string }).name ?? '';
  const id = text(answer?.id);
  return {
    ...who,
    action: 'job.enqueue',
    queue: text(answer?.queue) ?? deps.registry.get(name)?.queue ?? null,
    jobIds: id ? [id] : null,
    businessKey: header(request, 'idempotency-key'),
  };
}

export function registerAuditHook(app: FastifyInstance, deps: AuditHookDeps): void {
  const writer = new AuditWriter(deps.db, deps.log);
  app.addHook('onClose', async () => writer.drain());
  const audited = (request: FastifyRequest): boolean =>
    notes.has(request) || (request.method === 'POST' && (request.routeOptions.url === '/api/v1/jobs/:name' || request.routeOptions.url === '/api/v1/refunds'));

  // Callback hooks: they run on every request, and nothing in them waits (the writer queues the row).
  app.addHook('onSend', (request, _reply, payload, done) => {
    if (typeof payload === 'string' && audited(request)) answers.set(request, payload.slice(0, ANSWER_KEEP_CHARS));
    done(null, payload);
  });

  app.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done) => {
    if (audited(request)) writeEntry(request, reply);
    done();
  });

  function writeEntry(request: FastifyRequest, reply: FastifyReply): void {
    const answer = parsedAnswer(request);
    const note = notes.get(request);
    const base = note ?? apiEntry(request, answer, deps);
    if (!base) return;
    const entry: AuditEntry = {
      ...base,
      occurredAt: deps.now(),
      sourceAddress: request.ip,
      outcome: outcomeOf(reply.statusCode),
      statusCode: reply.statusCode,
      detail: answer,
    };
    writer.write(entry);
  }
}
