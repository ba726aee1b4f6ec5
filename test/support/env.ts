import { loadConfig, type Config } from '../../lib/config';
import { ConfigError } from '../../lib/errors';

/** The MariaDB and Redis the suite runs against: MYSQL_URL's server (its database is ignored) and REDIS_URL. */
export const TEST_MYSQL_SERVER = (process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/jobhub').replace(/\/[^/]*$/, '');
export const TEST_REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export const TEST_DB_PATTERN = /^jobhub_test_([a-z]+_)?\d+(_[a-z0-9]+)?$/;

/**
 * `JOBHUB_TEST_RUN` (letters) keeps the databases of one jest run apart from another's running at
 * the same time on the same server: `jobhub_test_<run>_<n>` instead of `jobhub_test_<n>`.
 */
const RUN = /^[a-z]+$/.test(process.env.JOBHUB_TEST_RUN ?? '') ? `${process.env.JOBHUB_TEST_RUN}_` : '';

/** The databases global-setup drops and creates again: this run's, never another run's. */
export const RUN_DATABASES_REGEXP = `^jobhub_test_${RUN}[0-9]`;

/** Each jest worker owns `jobhub_test_<n>`, prepared by global-setup. */
export function workerDatabase(): string {
  return `jobhub_test_${RUN}${process.env.JEST_WORKER_ID ?? '1'}`;
}

/** Configuration as a process would load it, pointed at this worker's database. */
export function testConfig(overrides: Record<string, string> = {}): Config {
  return loadConfig({
    HUB_ENV: 'development',
    LOG_LEVEL: 'silent',
    MYSQL_URL: `${TEST_MYSQL_SERVER}/${workerDatabase()}`,
    REDIS_URL: TEST_REDIS_URL,
    HUB_MIGRATE_ON_START: 'false',
    HUB_BUSINESS_SCHEMA_ON_START: 'false',
    HUB_DEMO_DATA: 'false',
    ...overrides,
  });
}

/** The environment for a child process of the built hub (dist/), pointed at this worker's database. */
export function childEnv(overrides: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    HUB_ENV: 'development',
    LOG_LEVEL: 'info',
    MYSQL_URL: `${TEST_MYSQL_SERVER}/${workerDatabase()}`,
    REDIS_URL: TEST_REDIS_URL,
    // Free ports, so processes of parallel test files never collide; they log the port they took.
    HUB_PORT: '0',
    HUB_METRICS_PORT: '0',
    HUB_DEMO_DATA: 'false',
    ...overrides,
  };
}

/** The problems loadConfig reports for `env` (none when it loads). */
export function configProblems(env: NodeJS.ProcessEnv): readonly string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}
