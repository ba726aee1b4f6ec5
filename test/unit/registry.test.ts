import { z } from 'zod';
import { JOBS, registry } from '../../jobs';
import { buildRegistry, defineJob, done, type JobDefinition } from '../../jobs/define-job';
import { QUEUE_SETTINGS } from '../../workers/queues';
import { isOpsJob, type QueueName } from '../../lib/queue-names';

const job = (name: string, queue = 'messages', handle: unknown = async () => done(null)): JobDefinition =>
  ({ name, queue: queue as QueueName, description: 'test', payload: z.object({}), handle }) as JobDefinition;

describe('buildRegistry', () => {
  it('refuses a name defined twice', () => {
    expect(() => buildRegistry([job('a-job'), job('a-job')])).toThrow('job a-job is defined twice');
  });

  it('refuses an unknown queue', () => {
    expect(() => buildRegistry([job('a-job', 'nowhere')])).toThrow('unknown queue "nowhere"');
  });

  it('refuses ":" and other non-kebab names', () => {
    expect(() => buildRegistry([job('a:job')])).toThrow('must be kebab-case');
    expect(() => buildRegistry([job('A_Job')])).toThrow('must be kebab-case');
  });

  it('refuses a job without a handler', () => {
    expect(() => buildRegistry([job('a-job', 'messages', null)])).toThrow('job a-job has no handler');
  });

  it('holds every job of the catalogue, each on a queue with settings', () => {
    expect([...registry.keys()]).toEqual(JOBS.map((j) => j.name));
    for (const def of JOBS) expect(QUEUE_SETTINGS[def.queue]).toBeDefined();
    expect(registry.get('notify-dispatch')?.queue).toBe('messages');
  });

  it('puts the ops jobs, the canary and the housekeeping, on the ops queue of their own', () => {
    expect(JOBS.filter(isOpsJob).map((j) => j.name)).toEqual(['sms-code-cleanup', 'hub-canary', 'hub-retention']);
    expect(QUEUE_SETTINGS.ops.concurrency).toBeLessThanOrEqual(2);
  });

  it('keeps the definition typed for its handler', async () => {
    const def = defineJob({
      name: 'typed-job',
      queue: 'messages',
      description: 'test',
      payload: z.object({ n: z.number() }),
      handle: async ({ n }) => done({ doubled: n * 2 }),
    });
    expect(buildRegistry([def]).get('typed-job')).toBe(def);
  });
});
