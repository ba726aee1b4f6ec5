import { Redis } from 'ioredis';
import mysql from 'mysql2/promise';

/** Throws, naming the service and how to start it, when MariaDB/MySQL does not accept a login. */
export async function assertMysqlUp(serverUrl: string): Promise<mysql.Connection> {
  const server = new URL(serverUrl);
  return mysql
    .createConnection({
      host: server.hostname,
      port: Number(server.port || 3306),
      user: decodeURIComponent(server.username || 'root'),
      password: decodeURIComponent(server.password),
      connectTimeout: 5_000,
    })
    .catch((err: Error) => {
      throw new Error(`MariaDB/MySQL is not reachable at ${server.host} (${err.message}). Start it (bash .ci/run does): the tests never skip.`);
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
    redis.disconnect();
  }
}
