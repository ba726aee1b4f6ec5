import { loadConfig } from '../../lib/config';
import { ConfigError } from '../../lib/errors';

function problemsOf(env: NodeJS.ProcessEnv): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('names every bad variable at once, not just the first', () => {
    const problems = problemsOf({
      HUB_ENV: 'staging',
      MYSQL_URL: 'postgres://x',
      REDIS_URL: 'localhost:6379',
      HUB_QUEUES: 'payments,nope',
      MYSQL_POOL_SIZE: 'many',
      HUB_MIGRATE_ON_START: 'perhaps',
      CS_DB: 'bad-name!',
    });
    const named = problems.map((p) => p.split(':')[0]);
    expect(named.sort()).toEqual(['CS_DB', 'HUB_ENV', 'HUB_MIGRATE_ON_START', 'HUB_QUEUES', 'MYSQL_POOL_SIZE', 'MYSQL_URL', 'REDIS_URL']);
  });

  it('requires explicit connections in production and refuses creating business tables there', () => {
    const problems = problemsOf({ HUB_ENV: 'production', HUB_BUSINESS_SCHEMA_ON_START: 'true' });
    expect(problems.map((p) => p.split(':')[0]).sort()).toEqual(['HUB_BUSINESS_SCHEMA_ON_START', 'MYSQL_URL', 'REDIS_URL']);
  });

  it('gives a laptop working defaults and every system the database of MYSQL_URL', () => {
    const config = loadConfig({});
    expect(config.env).toBe('development');
    expect(config.mysql).toMatchObject({ host: '127.0.0.1', port: 3306, user: 'root', database: 'jobhub', timezone: '+08:00' });
    expect(Object.values(config.mysql.databases)).toEqual(['jobhub', 'jobhub', 'jobhub', 'jobhub', 'jobhub']);
    expect(config.queues).toContain('messages');
    expect(config.businessSchemaOnStart).toBe(true);
  });

  it('parses credentials, per-system databases and the queue selection', () => {
    const config = loadConfig({
      HUB_ENV: 'production',
      MYSQL_URL: 'mysql://hub:p%40ss@db.internal:3307/hubdb',
      REDIS_URL: 'redis://:secret@redis.internal:6380/2',
      MARKETING_DB: 'marketing',
      HUB_QUEUES: 'sms, email',
    });
    expect(config.mysql).toMatchObject({ user: 'hub', password: 'p@ss', port: 3307, database: 'hubdb' });
    expect(config.mysql.databases).toEqual({ marketing: 'marketing', app: 'hubdb', customerService: 'hubdb', customer: 'hubdb', hub: 'hubdb' });
    expect(config.queues).toEqual(['sms', 'email']);
    expect(config.businessSchemaOnStart).toBe(false);
  });

  it('is frozen all the way down', () => {
    const config = loadConfig({});
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.mysql.databases)).toBe(true);
  });
});
