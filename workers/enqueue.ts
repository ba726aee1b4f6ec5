import type { JobsOptions } from 'bullmq';
import type { Enqueue, Enqueueable, EnqueueOptions } from '../lib/context';
import { parsePayload } from '../lib/validation';
import type { QueueName } from './queue-names';
import type { QueueSet } from './queues';

/** BullMQ's rules for custom ids: `:` splits its keys, and integers collide with its own ids. */
export function assertJobId(id: string): void {
  if (id.includes(':') || /^\d+$/.test(id) || id.length === 0 || id.length > 512) {
    throw new Error(`job id ${JSON.stringify(id)} must be 1-512 characters, contain no ":" and not be a bare integer`);
  }
}

/** A job ready for `queue.add` or `addBulk`: validated payload, the job's options, the caller's. */
export interface PreparedJob {
  queue: QueueName;
  name: string;
  data: unknown;
  opts: JobsOptions;
}

/** Every producer goes through here: throws `InvalidPayloadError` naming the fields before anything reaches Redis. */
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
