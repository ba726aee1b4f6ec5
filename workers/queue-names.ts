/**
 * Queue names: one per rate-limited outside account or channel, one per batch domain,
 * long jobs on their own. Kept apart from `queues.ts` so configuration can validate HUB_QUEUES
 * without loading BullMQ settings.
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
] as const;

export type QueueName = (typeof QUEUE_NAMES)[number];

export function isQueueName(name: string): name is QueueName {
  return (QUEUE_NAMES as readonly string[]).includes(name);
}
