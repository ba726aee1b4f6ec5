/**
 * Queue names: one per rate-limited outside account or channel, one per batch domain,
 * long jobs on their own, and `ops` for the hub's own operational jobs. Kept apart from `queues.ts`
 * so configuration can validate HUB_QUEUES without loading BullMQ settings.
 */
export const QUEUE_NAMES = [
  'payments',
  'reconcile',
  'refunds',
  'marketing',
  'sms',
  'wechat-messages',
  'email',
  'messages',
  'sync',
  'ops',
] as const;

export type QueueName = (typeof QUEUE_NAMES)[number];

export function isQueueName(name: string): name is QueueName {
  return (QUEUE_NAMES as readonly string[]).includes(name);
}

/**
 * The queue of operational jobs (the canary, housekeeping). Being on it is what makes a job an ops
 * job: apart from business queues, a held canary never holds their workers, and only tokens scoped
 * `ops` enqueue them (HUB_API_TOKENS); the outbox never does.
 */
export const OPS_QUEUE = 'ops' satisfies QueueName;

export function isOpsJob(def: { readonly queue: QueueName }): boolean {
  return def.queue === OPS_QUEUE;
}
