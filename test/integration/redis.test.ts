import { checkRedisDurability, closeRedis } from '../../lib/redis';
import { captureLogger } from '../support/logs';
import { testRedis } from '../support/queues';

describe('Redis durability check', () => {
  it('warns in production about what the server lacks, naming the setting', async () => {
    const redis = await testRedis();
    try {
      const [, policy] = (await redis.config('GET', 'maxmemory-policy')) as [string, string];
      const [, aof] = (await redis.config('GET', 'appendonly')) as [string, string];
      const { log, lines } = captureLogger();
      const warnings = await checkRedisDurability(redis, log, true);
      expect(warnings.some((w) => w.startsWith('maxmemory-policy'))).toBe(policy !== 'noeviction');
      expect(warnings.some((w) => w.startsWith('appendonly'))).toBe(aof !== 'yes');
      expect(lines().filter((l) => l.level === 'warn').map((l) => l.msg)).toEqual(warnings);
    } finally {
      await closeRedis(redis);
    }
  });
});
