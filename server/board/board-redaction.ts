import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import type { BeforeHookResult, BoardHooks, ControllerHandlerReturnType, HookContext } from '@bull-board/api/typings/app';
import type { Queue } from 'bullmq';
import { holdsMaskedValue, maskText, REDACTED, redactDeep } from '../../lib/redact';
import { boardIdentities } from './board-accounts';
import { queuesForRole } from './board-ui';
import { externalJobUrl } from './external-job-url';

/**
 * What the dashboard shows passes through the log redaction rules (lib/redact.ts), for every role;
 * stack traces are shown to admins only. Two layers, because Bull Board 9.10.1 formats only `data`,
 * `returnValue`, `name` and `progress` of a job: its other fields (`failedReason`, `stacktrace`,
 * `opts`), job logs, flow trees and job scheduler templates go out as stored. So each queue's
 * adapter masks what it formats, and an `after` hook on every data route masks the rest of the
 * answer. The hook sees the request, which a formatter does not: that is where the role is known.
 */

/** Where a board answer holds what jobs carry: masked by key name as well as by value shape. */
const CONTENT_KEYS = new Set(['data', 'returnValue', 'progress', 'opts', 'template']);
/** Deeper than any answer Bull Board builds; anything below is dropped rather than shown unread. */
const MAX_DEPTH = 32;

/** A queue's adapter whose job data, results, progress and names are masked. */
export function maskedAdapter(queue: Queue, description = ''): BullMQAdapter {
  const adapter = new BullMQAdapter(queue, { description, externalJobUrl });
  for (const field of ['data', 'returnValue', 'progress'] as const) adapter.setFormatter(field, (value: unknown) => redactDeep(value));
  // The name formatter is handed the whole job, not the name.
  adapter.setFormatter('name', (job: { name?: unknown; returnvalue?: unknown }) => maskText(listedName(job)));
  return adapter;
}

/** Longer reasons are cut in the list; the job's return value holds the whole one. */
const LISTED_REASON_CHARS = 120;

/**
 * A job's name as the list shows it. A job that returned `skipped(reason)` (jobs/define-job.ts)
 * completes like one that did its work, so the list, which shows names and no return values, says so.
 */
export function listedName(job: { name?: unknown; returnvalue?: unknown }): string {
  const name = typeof job.name === 'string' ? job.name : '';
  const result = job.returnvalue;
  if (result === null || typeof result !== 'object' || !('status' in result) || result.status !== 'skipped') return name;
  const reason = 'reason' in result && typeof result.reason === 'string' ? result.reason : '';
  const shown = reason.length > LISTED_REASON_CHARS ? `${reason.slice(0, LISTED_REASON_CHARS - 1)}…` : reason;
  return `⏭ ${name} — skipped: ${shown}`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** A board answer with job content masked by the log rules, every other string by value shape. */
export function maskBoardAnswer(value: unknown, showStacktraces: boolean, key = '', depth = 0): unknown {
  if (CONTENT_KEYS.has(key)) return redactDeep(value);
  if (typeof value === 'string') return maskText(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_DEPTH) return REDACTED;
  if (Array.isArray(value)) {
    if (key === 'stacktrace' && !showStacktraces) return [];
    return value.map((item: unknown) => maskBoardAnswer(item, showStacktraces, '', depth + 1));
  }
  if (!isPlainObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = maskBoardAnswer(v, showStacktraces, k, depth + 1);
  return out;
}

/** The list of queues, where Bull Board's UI reads which buttons to draw for each. */
const QUEUES_ROUTE = '/api/queues';

/** The board routes that write job data a user typed, or copied from what the board showed. */
const DATA_WRITES = new Set(['/api/queues/:queueName/add', '/api/queues/:queueName/:jobId/update-data']);

/**
 * Bull Board's handler hooks: masks every answer (stack traces for admins only), sets the queues'
 * buttons for the role (board-ui.ts), and refuses a job data write holding a masked value, which the
 * board's "edit" and "duplicate" would otherwise copy from the masked view over the real phone
 * number, address or code.
 */
export function boardMaskingHooks(): BoardHooks {
  return {
    before({ route, request }: HookContext): BeforeHookResult {
      if (!DATA_WRITES.has(route) || !holdsMaskedValue(JSON.stringify(request.body ?? null))) return undefined;
      return {
        allow: false,
        status: 400,
        errorKey: 'ERRORS.INVALID_REQUEST_BODY',
        message: 'the job data holds values the dashboard shows masked ([REDACTED], 138****5678, a***@…); enqueue the job through the API with the real values',
      };
    },
    after({ route, request }: HookContext, result: ControllerHandlerReturnType): ControllerHandlerReturnType {
      // The board's own onRequest hook has checked the credentials and noted who it is; unknown shows no stack traces.
      const role = boardIdentities.get(request.headers)?.role;
      const body = route === QUEUES_ROUTE ? queuesForRole(result.body, role) : result.body;
      return { ...result, body: maskBoardAnswer(body, role === 'admin') as ControllerHandlerReturnType['body'] };
    },
  };
}
