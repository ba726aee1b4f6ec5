import { Redis } from 'ioredis';
import { withServerConnection } from '../../entities/schema/mysql-server';
import { closeRedis } from '../../lib/redis';
import type { MysqlConfig } from '../../lib/config';

/** Throws, naming the service and how to start it, when MariaDB/MySQL does not accept a login. */
export async function assertMysqlUp(mysqlConfig: MysqlConfig): Promise<void> {
  await withServerConnection(mysqlConfig, (conn) => conn.query('SELECT 1')).catch((err: Error) => {
    const at = `${mysqlConfig.host}:${mysqlConfig.port}`;
    throw new Error(`MariaDB/MySQL is not reachable at ${at} (${err.message}). Start it (bash .ci/run does): the tests never skip.`);
  });
}

/** Throws, naming the service and how to start it, when Redis does not answer PING. */
export async function assertRedisUp(url: string): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 5_000 });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    throw new Error(`Redis is not reachable at ${url} (${(err as Error).message}). Start it (bash .ci/run does): the tests never skip.`);
  } finally {
    await closeRedis(redis);
  }
}
