import { isDatabaseUnavailableError, isTransientDatabaseError } from '../../lib/errors';
import { DatabaseOutage } from '../../workers/database-outage';

describe('database outage', () => {
  it('waits 1 s at first, then half the outage so far, at most 10 s, and starts again once it is over', () => {
    let now = 0;
    const outage = new DatabaseOutage(() => now);
    const first = outage.waitMs();
    expect(first).toBeGreaterThanOrEqual(1_000);
    expect(first).toBeLessThanOrEqual(1_200);
    now = 8_000;
    expect(outage.waitMs()).toBeGreaterThanOrEqual(4_000);
    expect(outage.waitMs()).toBeLessThanOrEqual(4_800);
    now = 600_000;
    expect(outage.waitMs()).toBeGreaterThanOrEqual(10_000);
    expect(outage.waitMs()).toBeLessThanOrEqual(12_000);
    outage.over();
    expect(outage.waitMs()).toBeLessThanOrEqual(1_200);
  });

  it('tells a failover (read-only, lost server) from the job\'s own faults', () => {
    const readOnly = { errno: 1290, code: 'ER_OPTION_PREVENTS_STATEMENT', sqlMessage: 'The MariaDB server is running with the --read-only option' };
    const readOnlyTransaction = { errno: 1792, code: 'ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION' };
    const gone = { errno: 2006, code: 'CR_SERVER_GONE_ERROR' };
    const killed = { errno: 1927, code: 'ER_CONNECTION_KILLED' };
    const lost = { code: 'PROTOCOL_CONNECTION_LOST', fatal: true };
    for (const driverError of [readOnly, readOnlyTransaction, gone, killed, lost]) {
      // As TypeORM wraps it, and as a handler wraps that in turn.
      const wrapped = new Error('query failed', { cause: Object.assign(new Error('QueryFailedError'), { driverError }) });
      expect([isDatabaseUnavailableError(wrapped), isTransientDatabaseError(wrapped)]).toEqual([true, true]);
    }
    const deadlock = { errno: 1213, code: 'ER_LOCK_DEADLOCK' };
    expect([isDatabaseUnavailableError(deadlock), isTransientDatabaseError(deadlock)]).toEqual([false, true]);
    for (const fault of [{ errno: 1062, code: 'ER_DUP_ENTRY' }, { errno: 1406, code: 'ER_DATA_TOO_LONG' }, { code: 'ECONNREFUSED' }]) {
      expect(isDatabaseUnavailableError(fault)).toBe(false);
    }
  });
});
