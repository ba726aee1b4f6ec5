import type { DataSource } from 'typeorm';
import { openTestDataSource } from './db';
import { testConfig } from './env';
import { startPrivateHub, type PrivateHub } from './private-hub';
import { preparePrivateDatabase, startPrivateMariadb, type PrivateMariadb } from './private-mariadb';
import { startPrivateRedis, type PrivateRedis } from './private-redis';

/** The built hub (web, worker, clock) on a MariaDB and a Redis of its own, which a scenario may break. */
export interface MariadbStack {
  mariadb: PrivateMariadb;
  redis: PrivateRedis;
  /** The test's own connection to that MariaDB. */
  db: DataSource;
  hub: PrivateHub;
  /** Stops everything: the hub first, whose processes' exit codes it returns. */
  close(): Promise<Awaited<ReturnType<PrivateHub['close']>>>;
}

export async function startMariadbStack(prefix: string, token: string): Promise<MariadbStack> {
  const mariadb = await startPrivateMariadb();
  await preparePrivateDatabase(mariadb);
  const redis = await startPrivateRedis();
  const db = await openTestDataSource(testConfig({ MYSQL_URL: mariadb.url }));
  const hub = await startPrivateHub({ mysqlUrl: mariadb.url, redisUrl: redis.url, prefix, token, env: { HUB_SWEEP_INTERVAL_MS: '5000' } });
  return {
    mariadb,
    redis,
    db,
    hub,
    async close() {
      const codes = await hub.close();
      await db.destroy();
      await redis.close();
      await mariadb.close();
      return codes;
    },
  };
}
