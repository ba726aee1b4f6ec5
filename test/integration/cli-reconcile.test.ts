import type { Job } from 'bullmq';
import { HubAudit } from '../../entities/hub/hub-audit.entity';
import { HubReconciliationItem } from '../../entities/hub/hub-reconciliation-item.entity';
import { HubReconciliationRun } from '../../entities/hub/hub-reconciliation-run.entity';
import { appleReconcileJobId } from '../../jobs/apple/apple-reconcile.job';
import { reconcileBillJobId } from '../../jobs/wechat-pay/wechat-pay-reconcile-bill.job';
import { beijingDate, parseBeijing } from '../../lib/time';
import { clearTables } from '../support/db';
import { openTestHub, type TestHub } from '../support/hub';
import { assertJobhubBuilt, jobhubCli, SEVERAL_CLI_RUNS_MS } from '../support/jobhub-cli';
import { TEST_MCHID } from '../support/wechat-pay';

const TABLES = [HubReconciliationRun, HubReconciliationItem];
/** A Beijing date `n` days back: its bill is ready at the emulator. */
const daysAgo = (n: number): string => beijingDate(new Date(Date.now() - n * 86_400_000));

interface ReconcileAnswer {
  job: string;
  queue: string;
  runs: { id: string; payload: Record<string, string>; alreadyQueued: boolean; state: string; result?: Record<string, unknown>; failedReason?: string }[];
}

describe('jobhub reconcile (the built CLI against real Redis and MariaDB)', () => {
  const actor = 'cli-reconcile-operator';
  let hub: TestHub;
  let cli: ReturnType<typeof jobhubCli>;

  beforeAll(async () => {
    assertJobhubBuilt();
    hub = await openTestHub(__filename, { wechatPay: {} });
    cli = jobhubCli({ prefix: hub.prefix, actor });
  });
  afterAll(async () => {
    await clearTables(hub.db, TABLES);
    await hub.close();
  }, SEVERAL_CLI_RUNS_MS);

  const reconcileJobs = async (name: string): Promise<Job[]> => ((await hub.queues.get('reconcile').getJobs()) as Job[]).filter((j) => j.name === name);
  const answer = (stdout: string): ReconcileAnswer => JSON.parse(stdout) as ReconcileAnswer;

  it('enqueues one wechat reconciliation per merchant and date, under the fan-out id, however often it runs', async () => {
    const day = daysAgo(40);
    const id = reconcileBillJobId(TEST_MCHID, day);
    expect(id).toBe(`wechat-reconcile-${TEST_MCHID}-${day.replace(/-/g, '')}`);

    const first = await cli(['reconcile', 'wechat', '--mchid', TEST_MCHID, '--date', day, '--json']);
    expect(first).toMatchObject({ code: 0, stderr: '' });
    expect(answer(first.stdout)).toEqual({
      job: 'wechat-pay-reconcile-bill',
      queue: 'reconcile',
      runs: [{ id, payload: { mchid: TEST_MCHID, billDate: day }, alreadyQueued: false, state: 'waiting' }],
    });
    const again = await cli(['reconcile', 'wechat', '--mchid', TEST_MCHID, '--date', day]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`${id} (${TEST_MCHID} ${day}): waiting (already queued, nothing added)`);

    const jobs = await reconcileJobs('wechat-pay-reconcile-bill');
    expect(jobs.map((j) => [j.id, j.data as unknown])).toEqual([[id, { mchid: TEST_MCHID, billDate: day }]]);

    const rows = await hub.db.getRepository(HubAudit).find({ where: { actor, actorKind: 'cli', action: 'job.enqueue' }, order: { id: 'ASC' } });
    const mine = rows.filter((r) => r.jobIds?.includes(id));
    expect(mine).toHaveLength(2);
    expect(mine.map((r) => [r.outcome, r.queue, r.detail])).toEqual([
      ['ok', 'reconcile', { job: 'wechat-pay-reconcile-bill', runs: [{ id, mchid: TEST_MCHID, billDate: day, alreadyQueued: false }] }],
      ['ok', 'reconcile', { job: 'wechat-pay-reconcile-bill', runs: [{ id, mchid: TEST_MCHID, billDate: day, alreadyQueued: true }] }],
    ]);
    await hub.queues.get('reconcile').remove(id);
  }, SEVERAL_CLI_RUNS_MS);

  it('enqueues one apple reconciliation per environment and date, however often it runs', async () => {
    const day = daysAgo(41);
    const ids = [appleReconcileJobId('Production', day), appleReconcileJobId('Sandbox', day)];
    const first = await cli(['reconcile', 'apple', '--date', day, '--json']);
    expect(first.code).toBe(0);
    expect(answer(first.stdout).runs).toEqual([
      { id: ids[0], payload: { environment: 'Production', date: day }, alreadyQueued: false, state: 'waiting' },
      { id: ids[1], payload: { environment: 'Sandbox', date: day }, alreadyQueued: false, state: 'waiting' },
    ]);
    const again = await cli(['reconcile', 'apple', '--date', day, '--environment', 'Sandbox', '--json']);
    expect(again.code).toBe(0);
    expect(answer(again.stdout).runs).toEqual([{ id: ids[1], payload: { environment: 'Sandbox', date: day }, alreadyQueued: true, state: 'waiting' }]);

    const jobs = await reconcileJobs('apple-reconcile');
    expect(jobs.map((j) => j.id).sort()).toEqual([...ids].sort());
    for (const id of ids) await hub.queues.get('reconcile').remove(id);
  }, SEVERAL_CLI_RUNS_MS);

  it('refuses bad arguments with exit 2 naming the option, and enqueues nothing', async () => {
    const day = daysAgo(42);
    const cases: [string[], RegExp][] = [
      [['reconcile', 'wechat', '--date', day], /--mchid/],
      [['reconcile', 'wechat', '--mchid', TEST_MCHID], /--date/],
      [['reconcile', 'wechat', '--mchid', 'not-digits', '--date', day], /--mchid "not-digits": expected the merchant number/],
      [['reconcile', 'wechat', '--mchid', '1234567890', '--date', day], /--mchid 1234567890: not a merchant of this hub/],
      [['reconcile', 'wechat', '--mchid', TEST_MCHID, '--date', '2026-02-30'], /--date "2026-02-30": expected a Beijing date/],
      [['reconcile', 'wechat', '--mchid', TEST_MCHID, '--date', '1 Dec 2026'], /--date "1 Dec 2026"/],
      [['reconcile', 'wechat', '--mchid', TEST_MCHID, '--date', daysAgo(-2)], /--date .*after today/],
      [['reconcile', 'wechat', '--mchid', TEST_MCHID, '--date', day, '--wait', '--timeout', '0'], /--timeout "0"/],
      [['reconcile', 'apple', '--date', day, '--environment', 'Staging'], /--environment/],
      [['reconcile', 'apple'], /--date/],
      [['reconcile'], /Usage: jobhub reconcile/],
    ];
    for (const [args, message] of cases) {
      const run = await cli(args);
      expect({ args, code: run.code }).toEqual({ args, code: 2 });
      expect(run.stderr).toMatch(message);
      expect(run.stdout).toBe('');
    }
    expect(await hub.queues.get('reconcile').count()).toBe(0);

    for (const args of [['reconcile', 'wechat', '--help'], ['reconcile', 'apple', '--help']]) {
      const help = await cli(args);
      expect(help.code).toBe(0);
      expect(help.stdout).toMatch(/--date <YYYY-MM-DD>[\s\S]*Exit codes:\n {2}0 {2}done/);
    }
  }, SEVERAL_CLI_RUNS_MS);

  it('with --wait, follows the run to its end and prints its discrepancy counts', async () => {
    hub.startWorkers(['reconcile', 'payments']);
    const day = daysAgo(43);
    const emulator = hub.wechatPay?.emulator;
    if (!emulator) throw new Error('no emulator');
    // Paid at WeChat at noon that day, unknown here: one MISSING_LOCALLY discrepancy.
    const outTradeNo = `CLIRC${Date.now()}`;
    const paidAt = parseBeijing(`${day} 12:00:00`);
    emulator.createOrder({ mchid: TEST_MCHID, out_trade_no: outTradeNo, total: 1_234, created: new Date(paidAt.getTime() - 60_000) });
    emulator.pay(outTradeNo, { at: paidAt, notify: false });

    const run = await cli(['reconcile', 'wechat', '--mchid', TEST_MCHID, '--date', day, '--wait', '--json']);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    const [only] = answer(run.stdout).runs;
    expect(only).toMatchObject({ id: reconcileBillJobId(TEST_MCHID, day), state: 'completed' });
    expect(only?.result).toMatchObject({ mchid: TEST_MCHID, billDate: day, status: 'COMPLETED', billRows: 1, discrepancies: 1, byKind: { MISSING_LOCALLY: 1 }, autoFixed: 0 });

    // A second --wait finds the finished job under its id and prints the same result without running it again.
    const text = await cli(['reconcile', 'wechat', '--mchid', TEST_MCHID, '--date', day, '--wait']);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('completed (already queued, nothing added)');
    expect(text.stdout).toContain('COMPLETED: 1 discrepancies (MISSING_LOCALLY 1), 0 fixed automatically');
    expect(await hub.db.getRepository(HubReconciliationRun).countBy({ merchant: TEST_MCHID, billDate: day })).toBe(1);
  }, SEVERAL_CLI_RUNS_MS);
});
