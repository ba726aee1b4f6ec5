import { HubAudit } from '../../entities/hub/hub-audit.entity';
import { BusinessSource } from '../../entities/dms/audit';
import { RefundOrder } from '../../entities/marketing/refund-order.entity';
import { outRefundNoFor, refundJobId } from '../../jobs/wechat-pay/request-refund';
import { assertJobhubBuilt, jobhubCli, SEVERAL_CLI_RUNS_MS } from '../support/jobhub-cli';
import { refundHarness } from '../support/refund-harness';

interface RefundAnswer {
  outRefundNo: string;
  outTradeNo: string;
  amount: number;
  total: number;
  status: string;
  created: boolean;
  idempotencyKey: string;
  submitJobId: string | null;
}

describe('jobhub refund (the built CLI, WeChat Pay emulator, real workers)', () => {
  const { h, paidPayment, payment, audits, ended, newNo } = refundHarness(__filename);
  const actor = 'cli-refund-operator';
  let cli: ReturnType<typeof jobhubCli>;

  beforeAll(() => {
    assertJobhubBuilt();
    cli = jobhubCli({ prefix: h.hub.prefix, actor });
  });

  const refunds = (outTradeNo: string): Promise<RefundOrder[]> => h.hub.db.getRepository(RefundOrder).findBy({ outTradeNo });
  const auditRows = (businessKey: string): Promise<HubAudit[]> =>
    h.hub.db.getRepository(HubAudit).find({ where: { action: 'refund.request', businessKey }, order: { id: 'ASC' } });

  it('twice with the same idempotency key makes one refund, submitted to WeChat Pay, and audits both runs as the cli actor', async () => {
    const paid = await paidPayment(1_000);
    const key = newNo('ticket-');
    const args = ['refund', paid.outTradeNo, '300', '--reason', 'event cancelled', '--idempotency-key', key, '--json'];

    const first = await cli(args);
    expect(first).toMatchObject({ code: 0, stderr: '' });
    const made = JSON.parse(first.stdout) as RefundAnswer;
    const outRefundNo = outRefundNoFor(`cli:${actor}`, key);
    expect(made).toMatchObject({ outRefundNo, outTradeNo: paid.outTradeNo, amount: 300, total: 1_000, status: 'REFUNDING', created: true, idempotencyKey: key, submitJobId: refundJobId(outRefundNo) });

    const second = await cli(args);
    expect(second.code).toBe(0);
    expect(JSON.parse(second.stdout)).toMatchObject({ outRefundNo, amount: 300, created: false });

    expect(await refunds(paid.outTradeNo)).toHaveLength(1);
    expect(await ended(outRefundNo)).toMatchObject({ status: 'REFUNDED', amount: 300, reason: 'event cancelled' });
    // The business log says who asked, as it does for an API client.
    expect((await audits(outRefundNo, BusinessSource.REFUND)).map((r) => r.remark)).toContain(`refund requested by cli:${actor}`);

    const rows = await auditRows(outRefundNo);
    expect(rows.map((r) => [r.actor, r.actorKind, r.outcome])).toEqual([
      [actor, 'cli', 'ok'],
      [actor, 'cli', 'ok'],
    ]);
    // The repeat queues the submission again only while it has not reached WeChat (a no-op under the same job id).
    expect(rows[0]).toMatchObject({ queue: 'refunds', jobIds: [refundJobId(outRefundNo)] });
    expect(rows.map((r) => r.detail?.created)).toEqual([true, false]);
  }, SEVERAL_CLI_RUNS_MS);

  it('without a key makes a new one and prints it: running again with it adds nothing', async () => {
    const paid = await paidPayment(800);
    const first = await cli(['refund', paid.outTradeNo, '100']);
    expect(first.code).toBe(0);
    const key = /--idempotency-key (\S+)/.exec(first.stdout)?.[1] ?? '';
    expect(key).not.toBe('');
    expect(first.stdout).toMatch(new RegExp(`^refund R\\w+ of ${paid.outTradeNo}: 100 fen of 800, REFUNDING\\n`));

    const again = await cli(['refund', paid.outTradeNo, '100', '--idempotency-key', key]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('already requested with this key: nothing new');
    expect(await refunds(paid.outTradeNo)).toHaveLength(1);
  }, SEVERAL_CLI_RUNS_MS);

  it('with Redis unreachable records the refund, prints it and exits 1; the same key later queues its submission', async () => {
    const paid = await paidPayment(700);
    const key = newNo('redis-down-');
    const args = ['refund', paid.outTradeNo, '200', '--idempotency-key', key, '--json'];
    // Nothing listens on port 1: the refund row is written, its job cannot be queued.
    const noRedis = jobhubCli({ prefix: h.hub.prefix, actor, env: { REDIS_URL: 'redis://127.0.0.1:1' } });
    const down = await noRedis(args);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/is recorded but job refund-R\w+ that submits it was not queued/);
    const recorded = JSON.parse(down.stdout) as RefundAnswer;
    expect(recorded).toMatchObject({ amount: 200, status: 'REFUNDING', created: true, submitJobId: null });
    expect(await refunds(paid.outTradeNo)).toHaveLength(1);
    expect((await auditRows(recorded.outRefundNo)).map((r) => [r.outcome, r.jobIds])).toEqual([['failed', null]]);

    const healed = await cli(args);
    expect(healed.code).toBe(0);
    expect(JSON.parse(healed.stdout)).toMatchObject({ outRefundNo: recorded.outRefundNo, created: false, submitJobId: refundJobId(recorded.outRefundNo) });
    expect(await ended(recorded.outRefundNo)).toMatchObject({ status: 'REFUNDED', amount: 200 });
    expect(await refunds(paid.outTradeNo)).toHaveLength(1);
  }, SEVERAL_CLI_RUNS_MS);

  it('refuses a refund over the refundable balance with exit 1 and its reason, writes no refund, and audits the refusal', async () => {
    const paid = await paidPayment(500);
    const over = await cli(['refund', paid.outTradeNo, '501', '--idempotency-key', newNo('over-')]);
    expect(over.code).toBe(1);
    expect(over.stderr).toMatch(/REFUND_EXCEEDS_PAID.*paid 500 fen, 0 fen already refunded/);
    expect(over.stdout).toBe('');
    expect(await refunds(paid.outTradeNo)).toHaveLength(0);
    expect((await payment(paid.id)).payStatus).toBe('PAY_SUCCESS');

    // What is left after a first refund is the balance: 400 of 500 refunded, 101 more is refused.
    expect((await cli(['refund', paid.outTradeNo, '400', '--idempotency-key', newNo('part-')])).code).toBe(0);
    const rest = await cli(['refund', paid.outTradeNo, '101', '--idempotency-key', newNo('rest-')]);
    expect(rest.code).toBe(1);
    expect(rest.stderr).toMatch(/400 fen already refunded or on the way/);
    expect((await refunds(paid.outTradeNo)).map((r) => r.amount)).toEqual([400]);

    const refused = (await auditRows(paid.outTradeNo)).filter((r) => r.actor === actor);
    expect(refused.map((r) => [r.actorKind, r.outcome, r.detail?.code])).toEqual([
      ['cli', 'refused', 'REFUND_EXCEEDS_PAID'],
      ['cli', 'refused', 'REFUND_EXCEEDS_PAID'],
    ]);
  }, SEVERAL_CLI_RUNS_MS);

  it('answers exit 3 for an unknown payment, and exit 2 naming the argument for a malformed request; neither writes a refund', async () => {
    const unknown = newNo('NOSUCH');
    const missing = await cli(['refund', unknown, '100', '--idempotency-key', newNo('k-')]);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain(`no payment out_trade_no ${unknown}`);
    expect((await auditRows(unknown)).map((r) => [r.actor, r.actorKind, r.outcome, r.detail?.code])).toEqual([[actor, 'cli', 'refused', 'PAYMENT_NOT_FOUND']]);

    const paid = await paidPayment(500);
    const cases: [string[], RegExp][] = [
      [['refund', paid.outTradeNo, '12.5'], /<fen>: expected whole fen/],
      [['refund', paid.outTradeNo, '0'], /<fen>: /],
      [['refund', paid.outTradeNo, '100', '--reason', 'x'.repeat(81)], /--reason: /],
      [['refund', paid.outTradeNo, '100', '--idempotency-key', 'has space'], /--idempotency-key: expected printable ASCII/],
      [['refund', paid.outTradeNo], /missing required argument 'fen'/],
    ];
    for (const [args, message] of cases) {
      const run = await cli(args);
      expect({ args, code: run.code }).toEqual({ args, code: 2 });
      expect(run.stderr).toMatch(message);
    }
    expect(await refunds(paid.outTradeNo)).toHaveLength(0);

    const help = await cli(['refund', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/--idempotency-key <key>[\s\S]*Exit codes:\n {2}0 {2}done/);
  }, SEVERAL_CLI_RUNS_MS);
});
