import type { QueueEvents, Queue, Worker } from 'bullmq';
import type { RedisConnection } from '../../lib/redis';
import type { DataSource } from 'typeorm';

type Tracked =
  | { kind: 'worker'; value: Worker }
  | { kind: 'queue'; value: Queue }
  | { kind: 'queue-events'; value: QueueEvents }
  | { kind: 'redis'; value: RedisConnection }
  | { kind: 'data-source'; value: DataSource }
  | { kind: 'closable'; value: { isOpen(): boolean }; label: string };

const tracked: Tracked[] = [];

/** Registers what a test opens, so the leak guard can fail a file that leaves it open. */
export function track<T extends Tracked>(entry: T): T['value'] {
  tracked.push(entry);
  return entry.value;
}

function isOpen(entry: Tracked): boolean {
  switch (entry.kind) {
    case 'worker':
      return !entry.value.closing;
    case 'queue':
    case 'queue-events':
      return !entry.value.closing;
    case 'redis':
      return entry.value.status !== 'end';
    case 'data-source':
      return entry.value.isInitialized;
    case 'closable':
      return entry.value.isOpen();
  }
}

export function openResources(): string[] {
  return tracked.filter(isOpen).map((e) => (e.kind === 'closable' ? e.label : e.kind));
}

export function forgetClosed(): void {
  for (let i = tracked.length - 1; i >= 0; i--) if (!isOpen(tracked[i] as Tracked)) tracked.splice(i, 1);
}
