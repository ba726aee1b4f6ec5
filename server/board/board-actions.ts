import type { HubRole } from '../../lib/users';

/**
 * Every write route of Bull Board 9.10.1 (@bull-board/api dist/routes.js) as an action, and who
 * may do it. Operators keep work moving (retry, promote, pause, resume); what destroys jobs or
 * changes what runs (clean, empty, obliterate, add, edit, schedulers, limits) is the admin's. A
 * route this table does not know, as a newer Bull Board may add, is the admin's too.
 */

export interface BoardAction {
  /** `job.retry`, `queue.pause`…: what the audit records. */
  readonly name: string;
  readonly roles: readonly HubRole[];
}

const OPERATOR: readonly HubRole[] = ['admin', 'operator'];
const ADMIN: readonly HubRole[] = ['admin'];

/** `METHOD route` (route relative to the board's base path) → the action. */
const ACTIONS: Readonly<Record<string, BoardAction>> = {
  'PUT /api/queues/pause': { name: 'queues.pause', roles: OPERATOR },
  'PUT /api/queues/resume': { name: 'queues.resume', roles: OPERATOR },
  'PUT /api/queues/:queueName/pause': { name: 'queue.pause', roles: OPERATOR },
  'PUT /api/queues/:queueName/resume': { name: 'queue.resume', roles: OPERATOR },
  'PUT /api/queues/:queueName/promote': { name: 'queue.promote', roles: OPERATOR },
  'PUT /api/queues/:queueName/:jobId/retry': { name: 'job.retry', roles: OPERATOR },
  'PUT /api/queues/:queueName/:jobId/promote': { name: 'job.promote', roles: OPERATOR },
  // Retrying every *failed* job is an operator's; re-running every completed one is not (see boardAction).
  'PUT /api/queues/:queueName/retry/:queueStatus': { name: 'queue.retry', roles: ADMIN },
  'PUT /api/queues/:queueName/clean/:queueStatus': { name: 'queue.clean', roles: ADMIN },
  'PUT /api/queues/:queueName/empty': { name: 'queue.empty', roles: ADMIN },
  'PUT /api/queues/:queueName/obliterate': { name: 'queue.obliterate', roles: ADMIN },
  'PUT /api/queues/:queueName/concurrency': { name: 'queue.concurrency', roles: ADMIN },
  'PUT /api/queues/:queueName/rate-limit': { name: 'queue.rate-limit', roles: ADMIN },
  'PUT /api/queues/:queueName/rate-limit/release': { name: 'queue.rate-limit-release', roles: ADMIN },
  'POST /api/queues/:queueName/add': { name: 'job.add', roles: ADMIN },
  'PUT /api/queues/:queueName/:jobId/clean': { name: 'job.remove', roles: ADMIN },
  'PATCH /api/queues/:queueName/:jobId/update-data': { name: 'job.update-data', roles: ADMIN },
  'PATCH /api/queues/:queueName/:jobId/delay': { name: 'job.delay', roles: ADMIN },
  'PATCH /api/queues/:queueName/:jobId/priority': { name: 'job.priority', roles: ADMIN },
  'PUT /api/queues/:queueName/:jobId/remove-unprocessed-children': { name: 'job.remove-children', roles: ADMIN },
  'PUT /api/queues/:queueName/job-schedulers/:schedulerId/remove': { name: 'scheduler.remove', roles: ADMIN },
  'PATCH /api/queues/:queueName/job-schedulers/:schedulerId': { name: 'scheduler.update', roles: ADMIN },
  'PUT /api/queues/:queueName/job-schedulers/:schedulerId/run': { name: 'scheduler.run', roles: ADMIN },
  'POST /api/metrics/history/purge': { name: 'metrics.purge', roles: ADMIN },
};

/** The action of a write to the board; `route` is Fastify's route pattern under the board's base path. */
export function boardAction(method: string, route: string, params: Record<string, string | undefined>): BoardAction {
  const known = ACTIONS[`${method.toUpperCase()} ${route}`];
  if (!known) return { name: `board.${method.toLowerCase()}`, roles: ADMIN };
  if (known.name === 'queue.retry') {
    const status = params.queueStatus ?? 'unknown';
    return { name: `queue.retry-${status}`, roles: status === 'failed' ? OPERATOR : ADMIN };
  }
  return known;
}

export function mayDo(role: HubRole, action: BoardAction): boolean {
  return action.roles.includes(role);
}
