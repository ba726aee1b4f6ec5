import { QueueKeys, type JobsOptions } from 'bullmq';
import { z } from 'zod';
import type { Enqueue, Enqueueable, EnqueueOptions } from '../jobs/context';
import { parsePayload } from '../lib/validation';
import type { QueueName } from '../lib/queue-names';
import type { QueueSet } from './queues';

/**
 * The names BullMQ gives its own keys beside the jobs', `<prefix>:<queue>:<name>` (its QueueKeys, the
 * legacy `priority`, and `metrics` and `dn`, whose `<name>:…` families would meet a job's own `<id>:…` keys).
 * A job id equal to one names that key: reading it answers WRONGTYPE, writing it corrupts the queue.
 */
const BULLMQ_KEY_NAMES: ReadonlySet<string> = new Set([...Object.keys(new QueueKeys().getKeys('queue')), 'priority', 'metrics', 'dn'].filter(Boolean));

/**
 * Any id a job can have, BullMQ's own numbers included: what a read accepts. `:` splits BullMQ's keys,
 * and no id may be the name of one of them.
 */
export const jobIdSchema = z
  .string()
  .min(1)
  .max(512)
  .refine((id) => !id.includes(':'), 'must not contain ":"')
  .refine((id) => !BULLMQ_KEY_NAMES.has(id), `must not be one of BullMQ's own key names (${[...BULLMQ_KEY_NAMES].join(', ')})`);

/** An id a producer chooses: as `jobIdSchema`, and never a bare integer, which would collide with BullMQ's own ids. */
export function assertJobId(id: string): void {
  if (!jobIdSchema.safeParse(id).success || /^\d+$/.test(id)) {
    throw new Error(`job id ${JSON.stringify(id)} must be 1-512 characters, contain no ":", not be a bare integer nor one of BullMQ's own key names`);
  }
}

/** A job ready for `queue.add` or `addBulk`: validated payload, the job's options, the caller's. */
export interface PreparedJob {
  queue: QueueName;
  name: string;
  data: unknown;
  opts: JobsOptions;
}

/** Every producer goes through here: throws `InvalidPayloadError` naming the fields, unknown ones included, before anything reaches Redis. */
export function prepareJob(def: Enqueueable, payload: unknown, options: EnqueueOptions = {}): PreparedJob {
  const data: unknown = parsePayload(def.payload, payload);
  const opts: JobsOptions = { ...def.options };
  if (options.jobId !== undefined) {
    assertJobId(options.jobId);
    opts.jobId = options.jobId;
  }
  const deduplicationId = options.deduplicationId ?? def.deduplicationId?.(data);
  if (deduplicationId !== undefined) opts.deduplication = { id: deduplicationId };
  if (options.delay !== undefined) opts.delay = options.delay;
  if (options.priority !== undefined) opts.priority = options.priority;
  return { queue: def.queue, name: def.name, data, opts };
}

/** `ctx.enqueue` and every other single-job producer. */
export function createEnqueue(queues: QueueSet): Enqueue {
  return async (def, payload, options) => {
    const job = prepareJob(def, payload, options);
    const added = await queues.get(job.queue).add(job.name, job.data, job.opts);
    if (!added.id) throw new Error(`BullMQ returned no id for ${def.name}`);
    return { id: added.id, name: def.name, queue: def.queue };
  };
}
