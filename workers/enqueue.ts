import type { JobsOptions } from 'bullmq';
import type { Enqueue, EnqueueOptions } from '../lib/context';
import { parsePayload } from '../lib/validation';
import type { QueueSet } from './queues';

/** BullMQ's rules for custom ids: `:` splits its keys, and integers collide with its own ids. */
export function assertJobId(id: string): void {
  if (id.includes(':') || /^\d+$/.test(id) || id.length === 0 || id.length > 512) {
    throw new Error(`job id ${JSON.stringify(id)} must be 1-512 characters, contain no ":" and not be a bare integer`);
  }
}

/** `ctx.enqueue` and every other producer: the payload is validated before it reaches Redis. */
export function createEnqueue(queues: QueueSet): Enqueue {
  return async (def, payload, options: EnqueueOptions = {}) => {
    const data = parsePayload(def.payload, payload);
    const opts: JobsOptions = { ...def.options };
    if (options.jobId !== undefined) {
      assertJobId(options.jobId);
      opts.jobId = options.jobId;
    }
    if (options.deduplicationId !== undefined) opts.deduplication = { id: options.deduplicationId };
    if (options.delay !== undefined) opts.delay = options.delay;
    if (options.priority !== undefined) opts.priority = options.priority;
    const job = await queues.get(def.queue).add(def.name, data, opts);
    if (!job.id) throw new Error(`BullMQ returned no id for ${def.name}`);
    return { id: job.id, name: def.name, queue: def.queue };
  };
}
