import { Redis } from 'ioredis';
import { takeSecondPermit } from '../../lib/rate-permit';

// Never connected: a permit refused by the guard must not reach Redis at all.
const offline = new Redis({ lazyConnect: true, enableOfflineQueue: false });

afterAll(() => offline.disconnect());

describe('takeSecondPermit guard', () => {
  it('gives no permit in the last 100 ms of a second, where the call could reach the vendor in the next one', async () => {
    const at = new Date(Date.UTC(2026, 11, 3, 8, 0, 0, 940));
    await expect(takeSecondPermit(offline, 'test:rate:sms', 500, at)).resolves.toEqual({ waitMs: 60 });
  });
});
