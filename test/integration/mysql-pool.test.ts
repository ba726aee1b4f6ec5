import type { DataSource } from 'typeorm';
import { isDatabaseUnavailableError } from '../../lib/errors';
import { withNamedLock } from '../../lib/named-lock';
import { poolSizeFor } from '../../workers/pool-size';
import { openTestDataSource } from '../support/db';
import { testConfig } from '../support/env';
import { captureLogger } from '../support/logs';

/** A small pool with a short acquire timeout: the real mysql2 pool against the shared server. */
describe('the MySQL pool', () => {
  let db: DataSource;
  const { log } = captureLogger('debug');

  beforeAll(async () => {
    db = await openTestDataSource(testConfig({ MYSQL_POOL_SIZE: '2', MYSQL_POOL_ACQUIRE_TIMEOUT_MS: '300' }));
  });
  afterAll(() => db.destroy());

  it('fails a query that finds no free connection within the acquire timeout, then serves again', async () => {
    const held = [db.createQueryRunner(), db.createQueryRunner()];
    await Promise.all(held.map((r) => r.connect()));
    const started = Date.now();
    const err: unknown = await db.query('SELECT 1').catch((e: unknown) => e);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(err).toMatchObject({ code: 'POOL_ACQUIRE_TIMEOUT' });
    expect(isDatabaseUnavailableError(err)).toBe(true);
    await Promise.all(held.map((r) => r.release()));
    // The connection the timed-out query would have had went back: both are free again.
    const both = await Promise.all([db.query('SELECT SLEEP(0.1) AS s'), db.query('SELECT SLEEP(0.1) AS s')]);
    expect(both).toHaveLength(2);
  });

  it('holds a named lock on a connection of its own: the work has the whole pool', async () => {
    const name = `jobhub-test-pool-${process.pid}`;
    const result = await withNamedLock({ db, log }, name, () => new Error('busy'), () =>
      Promise.all([db.query('SELECT SLEEP(0.4) AS s'), db.query('SELECT SLEEP(0.4) AS s')]),
    );
    expect(result).toHaveLength(2);
    // Held while the work runs, released after.
    const [row] = (await db.query('SELECT IS_FREE_LOCK(?) AS free', [name])) as { free: number | string }[];
    expect(Number(row?.free)).toBe(1);
  });

  it('sizes a worker process\'s pool from its queues, and refuses one too small to serve them', () => {
    expect(poolSizeFor(testConfig({ HUB_QUEUES: 'sms,ops' }), true)).toBe(50 + 2 + 4);
    expect(poolSizeFor(testConfig({ HUB_QUEUES: 'sms,ops', HUB_CONCURRENCY: 'sms:10' }), true)).toBe(10 + 2 + 4);
    expect(poolSizeFor(testConfig({ HUB_QUEUES: 'sms' }), false)).toBe(10);
    expect(() => poolSizeFor(testConfig({ HUB_QUEUES: 'payments,refunds', MYSQL_POOL_SIZE: '10' }), true)).toThrow(
      'MYSQL_POOL_SIZE=10 cannot serve this process: its queues (payments,refunds) run up to 30 jobs at once, which need 34 connections',
    );
    expect(() => testConfig({ HUB_CONCURRENCY: 'sms:ten' })).toThrow(/HUB_CONCURRENCY/);
    expect(() => testConfig({ HUB_CONCURRENCY: 'nowhere:3' })).toThrow(/HUB_CONCURRENCY/);
  });
});
