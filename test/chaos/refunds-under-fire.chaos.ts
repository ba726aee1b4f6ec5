import { Redis } from 'ioredis';
import { closeRedis } from '../../lib/redis';
import { byScale, recordRecovery } from '../support/chaos';
import { startPrivateRedis, type PrivateRedis } from '../support/private-redis';
import { openRefundStorm, type RefundStorm } from '../support/refund-storm';

const REFUNDS = byScale(400, 1_000);
const KILLS = 4;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Refunds under fire: refunds in flight through the real web and worker processes (dist/), the
 * workers killed with SIGKILL at random moments, their Redis (a private one) flushed once. MySQL is
 * the record: the sweepers and the deterministic out_refund_no must bring every refund to REFUNDED
 * exactly once.
 */
describe('refunds under fire: killed workers and a flushed Redis', () => {
  let redis: PrivateRedis;
  let storm: RefundStorm;

  beforeAll(async () => {
    redis = await startPrivateRedis();
    storm = await openRefundStorm({ refunds: REFUNDS, env: { REDIS_URL: redis.url } });
  });
  afterAll(async () => {
    await storm.close();
    await redis.close();
  });

  it(`brings every one of ${REFUNDS} refunds to REFUNDED exactly once`, async () => {
    await storm.seed();
    const { port } = await storm.startWeb();
    const workers = [await storm.startWorker(), await storm.startWorker()];
    const sending = storm.send(port);

    // SIGKILLs at random moments, each worker replaced; Redis flushed once, after the second.
    let refundedAtFlush = -1;
    let lastFaultAt = 0;
    for (let kill = 0; kill < KILLS; kill += 1) {
      await sleep(400 + Math.floor(Math.random() * 1_200));
      const victim = Math.floor(Math.random() * workers.length);
      workers[victim]?.child.kill('SIGKILL');
      lastFaultAt = Date.now();
      await workers[victim]?.exited();
      workers[victim] = await storm.startWorker();
      if (kill === 1) {
        refundedAtFlush = await storm.refunded();
        const flusher = new Redis(redis.url);
        await flusher.flushall();
        lastFaultAt = Date.now();
        await closeRedis(flusher);
      }
    }
    const unavailable = await sending;
    // The flush came with refunds in flight: what it took from Redis only MySQL still knew about.
    expect(refundedAtFlush).toBeGreaterThanOrEqual(0);
    expect(refundedAtFlush).toBeLessThan(storm.requests.length);

    await storm.allRefunded(150_000);
    const recoveryMs = Date.now() - lastFaultAt;
    expect(await storm.exactlyOnceProblems()).toEqual([]);
    // The sweepers did their part: jobs the flush took were added again from MySQL.
    const restored = storm.restoredBySweepers();
    expect(restored).toBeGreaterThan(0);
    recordRecovery({
      scenario: 'refunds-under-fire',
      fault: `${KILLS} worker SIGKILLs, Redis flushed once (${refundedAtFlush} of ${storm.requests.length} refunded then)`,
      recoveryMs,
      detail: `${storm.requests.length} refunds REFUNDED once each, 0 twice, 0 REFUNDING; ${restored} jobs restored by sweepers; ${unavailable} requests answered 503`,
    });
  });
});
