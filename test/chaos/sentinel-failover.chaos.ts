import { RefundOrder } from '../../entities/marketing/refund-order.entity';
import { byScale, recordRecovery } from '../support/chaos';
import type { HubProcess } from '../support/processes';
import { SENTINEL_MASTER, startSentinelSet, type PrivateSentinelSet } from '../support/redis-sentinel';
import { openRefundStorm, type RefundStorm } from '../support/refund-storm';
import { until } from '../support/wait';

const REFUNDS = byScale(400, 1_000);

/** The web process's /readyz: its status and body (0 and the error when it did not answer). */
async function readiness(port: number): Promise<{ status: number; body: string }> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(5_000) });
    return { status: res.status, body: await res.text() };
  } catch (err) {
    return { status: 0, body: String(err) };
  }
}

/**
 * A Redis failover under load: web and two worker processes (dist/) find Redis only through a
 * sentinel; with refunds in flight the primary is killed (SIGKILL) and the sentinel promotes the
 * replica. Every process must follow it by itself, none restarted, and every refund end REFUNDED
 * exactly once. The replica is asynchronous, so the primary's last writes may be lost: the refund
 * sweeper adds those jobs again from MySQL.
 */
describe('sentinel failover under refunds', () => {
  let set: PrivateSentinelSet;
  let storm: RefundStorm;

  beforeAll(async () => {
    set = await startSentinelSet();
    storm = await openRefundStorm({
      refunds: REFUNDS,
      env: {
        // Only the sentinels say where Redis is: a connection to this host would fail.
        REDIS_URL: 'redis://no-redis-here.invalid:6379/0',
        REDIS_SENTINELS: set.sentinels,
        REDIS_SENTINEL_MASTER: SENTINEL_MASTER,
      },
    });
  });
  afterAll(async () => {
    await storm.close();
    await set.close();
  });

  it(`brings ${REFUNDS} refunds to REFUNDED exactly once across a failover, no process restarted`, async () => {
    await storm.seed();
    const { web, port } = await storm.startWeb();
    const workers = [await storm.startWorker(), await storm.startWorker()];
    const processes: HubProcess[] = [web, ...workers];
    expect((await readiness(port)).status).toBe(200);
    const sending = storm.send(port);

    // Mid-way: a quarter of the refunds through, or three quarters requested, whichever comes
    // first, so that some are still to be requested after the kill.
    const total = storm.requests.length;
    const requested = (): Promise<number> => storm.db.getRepository(RefundOrder).count();
    await until('refunds mid-way', async () => (await storm.refunded()) >= total / 4 || (await requested()) >= (total * 3) / 4, 60_000, 50);
    await set.primary.stop();
    const killedAt = Date.now();
    const refundedAtKill = await storm.refunded();
    // Jobs already in a worker's hands when the primary died can end their refund without Redis:
    // the first refund requested after the death to end REFUNDED went through the new primary.
    const before = new Set((await storm.db.getRepository(RefundOrder).find({ select: { id: true } })).map((r) => r.id));

    // From the death on: the first refund completed after it, and the web process ready again.
    let firstRefundAfterMs = -1;
    let readyAfterMs = -1;
    let sawUnready = false;
    let promoted = false;
    let promotedAfterMs = -1;
    let lastReadiness = { status: 0, body: '' };
    const watchRefunds = until(
      'a refund requested after the failover REFUNDED',
      async () => (await storm.db.getRepository(RefundOrder).find({ select: { id: true }, where: { status: 'REFUNDED' } })).some((r) => !before.has(r.id)),
      60_000,
      50,
    ).then(() => {
      firstRefundAfterMs = Date.now() - killedAt;
    });
    const watchReady = until(
      'the web process ready again',
      async () => {
        lastReadiness = await readiness(port);
        const { status } = lastReadiness;
        if (status !== 200) sawUnready = true;
        // Ready before the promotion was seen would be the dead primary's last answer, not a recovery.
        return status === 200 && (sawUnready || promoted);
      },
      60_000,
      100,
    ).then(
      () => {
        readyAfterMs = Date.now() - killedAt;
      },
      (err: unknown) => {
        throw new Error(`${String(err)}: /readyz ${lastReadiness.status} ${lastReadiness.body}`);
      },
    );
    const watchPromotion = until('the sentinel promoted the replica', async () => (await set.primaryPort().catch(() => 0)) === set.replica.port, 30_000, 100).then(() => {
      promotedAfterMs = Date.now() - killedAt;
      promoted = true;
    });
    // Every watch to its end, so that a failure names all that did not recover.
    const failed = (await Promise.allSettled([watchPromotion, watchReady, watchRefunds])).flatMap((r) => (r.status === 'rejected' ? [String(r.reason)] : []));
    if (failed.length > 0) throw new Error(failed.join('\n'));

    const unavailable = await sending;
    await storm.allRefunded(150_000);
    const allRefundedAfterMs = Date.now() - killedAt;

    expect(await storm.exactlyOnceProblems()).toEqual([]);
    expect((await readiness(port)).status).toBe(200);
    // Nobody restarted anything: each process is the one started, once, and still running.
    expect(storm.processes).toHaveLength(processes.length);
    expect(processes.map((p) => ({ exit: p.child.exitCode, signal: p.child.signalCode }))).toEqual(processes.map(() => ({ exit: null, signal: null })));
    expect(web.stdout().match(/"msg":"web listening"/g)).toHaveLength(1);
    for (const w of workers) expect(w.stdout().match(/"msg":"workers started"/g)).toHaveLength(1);

    const restored = storm.restoredBySweepers();
    recordRecovery({
      scenario: 'sentinel-failover',
      fault: `primary SIGKILLed at ${refundedAtKill} of ${total} refunded (${before.size} requested); replica promoted after ${(promotedAfterMs / 1000).toFixed(1)} s`,
      recoveryMs: firstRefundAfterMs,
      detail: `/readyz 200 again after ${(readyAfterMs / 1000).toFixed(1)} s${sawUnready ? '' : ' (never seen unready)'}; all REFUNDED after ${(allRefundedAfterMs / 1000).toFixed(1)} s, once each, 0 REFUNDING; ${restored} jobs restored by sweepers; ${unavailable} requests answered 503; 0 processes restarted or exited`,
    });
  });
});
