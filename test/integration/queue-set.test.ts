import { Redis } from 'ioredis';
import { closeRedis, createRedis, waitForRedis } from '../../lib/redis';
import { QueueSet } from '../../workers/queues';
import { startPrivateRedis, type PrivateRedis } from '../support/private-redis';
import { testPrefix } from '../support/queues';
import { track } from '../support/resources';

/**
 * The producer's queues when their first look at Redis fails part-way (BullMQ checks the server's
 * version once, at a queue's creation, and keeps the outcome): the queue is built again at the next
 * use instead of failing every add until a restart. The failure is made exact with an ACL user who
 * may not run INFO, then may.
 */
describe('QueueSet', () => {
  const prefix = testPrefix(__filename);
  let server: PrivateRedis;
  let admin: Redis;

  beforeAll(async () => {
    server = await startPrivateRedis();
    admin = track({ kind: 'redis', value: new Redis(server.url) });
    await admin.call('ACL', 'SETUSER', 'hub', 'on', '>hub-secret', '~*', '&*', '+@all', '-info');
  });
  afterAll(async () => {
    await closeRedis(admin);
    await server.close();
  });

  it('rebuilds a queue whose first look at Redis failed', async () => {
    const producer = track({ kind: 'redis', value: createRedis(server.url.replace('redis://', 'redis://hub:hub-secret@'), 'producer', 'jobhub-test') });
    await waitForRedis(producer);
    const queues = new QueueSet(producer, prefix);
    try {
      await expect(queues.get('ops').add('probe', {}, { jobId: 'first' })).rejects.toThrow(/NOPERM|no permissions/i);
      await admin.call('ACL', 'SETUSER', 'hub', '+info');
      // The failed queue is dropped once its check has failed; the next use builds a fresh one.
      let added: string | undefined;
      for (let attempt = 0; attempt < 20 && added === undefined; attempt++) {
        added = await queues
          .get('ops')
          .add('probe', {}, { jobId: 'second' })
          .then((job) => job.id)
          .catch(() => undefined);
      }
      expect(added).toBe('second');
      expect(await admin.exists(`${prefix}:ops:second`)).toBe(1);
    } finally {
      await queues.close();
      await closeRedis(producer);
    }
  });
});
