import { Option, type Command } from 'commander';
import { z } from 'zod';
import { WxPayConfig } from '../../entities/marketing/wx-pay-config.entity';
import { APPLE_ENVIRONMENTS, type AppleEnvironment } from '../../integrations/apple/apple.client';
import { appleReconcile, appleReconcileJobId, enqueueAppleReconcile } from '../../jobs/apple/apple-reconcile.job';
import type { Enqueue, EnqueuedJob } from '../../jobs/context';
import { enqueueReconcileBill, reconcileBillJobId, wechatPayReconcileBill } from '../../jobs/wechat-pay/wechat-pay-reconcile-bill.job';
import { beijingDate } from '../../lib/time';
import { beijingDateSchema } from '../../lib/validation';
import { createEnqueue } from '../../workers/enqueue';
import { CliError, EXIT, EXIT_CODES_HELP, usageError } from './exit';
import type { Output } from './output';
import { parseIntOption, run } from './run';
import { withConnections, type Connections } from './runtime';
import { waitForJob } from './wait-for-job';

/** One reconciliation to enqueue: its deterministic id, and the job's own producer. */
interface Target {
  id: string;
  payload: Record<string, string>;
  enqueue(enqueue: Enqueue): Promise<EnqueuedJob>;
}

/** What the command answers about each reconciliation. */
interface RunReport {
  id: string;
  payload: Record<string, string>;
  /** The id was already taken: this command added nothing (the job is queued, running or kept after it ran). */
  alreadyQueued: boolean;
  state: string;
  /** With --wait: the job's summary (discrepancy counts), once completed. */
  result?: unknown;
  skipped?: string;
  failedReason?: string;
}

interface WaitOptions {
  wait?: boolean;
  timeout: string;
}

const MCHID = /^\d{1,32}$/;

/** `--date`: a real Beijing date, not after today (there is no bill or history of a later day yet). */
function parseReconcileDate(text: string): string {
  if (!beijingDateSchema.safeParse(text).success) throw usageError(`--date ${JSON.stringify(text)}: expected a Beijing date YYYY-MM-DD`);
  const today = beijingDate(new Date());
  if (text > today) throw usageError(`--date ${text}: after today (${today}, Beijing time): that day has nothing to reconcile yet`);
  return text;
}

function parseWait(opts: WaitOptions): number | null {
  const seconds = parseIntOption('--timeout', opts.timeout, 1, 86_400);
  return opts.wait === true ? seconds * 1_000 : null;
}

/** The job's answer: its summary when done, its reason when it skipped the work. */
const jobResult = z.union([z.object({ status: z.literal('done'), result: z.unknown() }), z.object({ status: z.literal('skipped'), reason: z.string() })]);
const summary = z.looseObject({ status: z.string(), discrepancies: z.number(), byKind: z.record(z.string(), z.number()), autoFixed: z.number() });

function describeRun(job: string, run: RunReport): string {
  const head = `${job} ${run.id} (${Object.values(run.payload).join(' ')}): ${run.state}${run.alreadyQueued ? ' (already queued, nothing added)' : ''}`;
  if (run.failedReason !== undefined) return `${head}\n  ${run.failedReason}`;
  if (run.skipped !== undefined) return `${head}\n  skipped: ${run.skipped}`;
  if (run.result === undefined) return head;
  const s = summary.safeParse(run.result);
  if (!s.success) return `${head}\n  ${JSON.stringify(run.result)}`;
  const kinds = Object.entries(s.data.byKind).map(([kind, n]) => `${kind} ${n}`);
  return `${head}\n  ${s.data.status}: ${s.data.discrepancies} discrepancies${kinds.length ? ` (${kinds.join(', ')})` : ''}, ${s.data.autoFixed} fixed automatically`;
}

/**
 * Enqueues each target under its own id, as the daily fan-out does (so running the command twice,
 * or after the clock, adds nothing), audits the enqueue, and with --wait follows every job to its end.
 */
async function reconcile(c: Connections, out: Output, jobName: string, targets: readonly Target[], waitMs: number | null): Promise<void> {
  const queueSet = await c.queues();
  const queue = queueSet.get('reconcile');
  const enqueue = createEnqueue(queueSet);
  const runs: RunReport[] = [];
  try {
    for (const target of targets) {
      const alreadyQueued = (await queue.getJob(target.id)) !== undefined;
      const job = await target.enqueue(enqueue);
      runs.push({ id: job.id, payload: target.payload, alreadyQueued, state: await queue.getJobState(job.id) });
    }
  } catch (err) {
    await c.audit({ action: 'job.enqueue', queue: 'reconcile', jobIds: runs.map((r) => r.id), outcome: 'failed', detail: { job: jobName, error: (err as Error).message } });
    throw err;
  }
  await c.audit({
    action: 'job.enqueue',
    queue: 'reconcile',
    jobIds: runs.map((r) => r.id),
    outcome: 'ok',
    detail: { job: jobName, runs: runs.map((r) => ({ id: r.id, ...r.payload, alreadyQueued: r.alreadyQueued })) },
  });
  const problems: string[] = [];
  if (waitMs !== null) {
    for (const r of runs) {
      const end = await waitForJob(queue, r.id, waitMs);
      if (end.state === 'completed') {
        r.state = 'completed';
        const answer = jobResult.safeParse(end.returnValue);
        if (answer.success && answer.data.status === 'done') r.result = answer.data.result;
        else if (answer.success && answer.data.status === 'skipped') r.skipped = answer.data.reason;
        else r.result = end.returnValue;
      } else if (end.state === 'failed') {
        r.state = 'failed';
        r.failedReason = end.failedReason;
        problems.push(`${r.id} failed`);
      } else if (end.state === 'gone') {
        r.state = 'gone';
        problems.push(`${r.id} was removed before it finished`);
      } else {
        r.state = end.lastState;
        problems.push(`${r.id} still ${end.lastState} after --timeout; follow it with: jobhub status ${jobName} ${r.id}`);
      }
    }
  }
  out.result({ job: jobName, queue: 'reconcile', runs }, () => runs.map((r) => describeRun(jobName, r)).join('\n'));
  if (problems.length > 0) throw new CliError(EXIT.failed, problems.join('; '));
}

/** The default merchant or an enabled wx_pay_config row: the merchants the job can reach. */
async function assertKnownMerchant(c: Connections, mchid: string): Promise<void> {
  if (mchid === c.config.wechatPay.mchid) return;
  const row = await (await c.dataSource()).getRepository(WxPayConfig).findOne({ select: { id: true }, where: { mchid, enabled: 1, deleted: 0 } });
  if (!row) throw usageError(`--mchid ${mchid}: not a merchant of this hub (neither WECHAT_PAY_MCHID nor an enabled wx_pay_config row)`);
}

const WAIT_HELP = 'wait for the reconciliation to finish and print its discrepancy counts';
const TIMEOUT_HELP = 'with --wait, give up waiting (exit 1, the job goes on) after this many seconds';

function registerWechat(reconcileCommand: Command): void {
  reconcileCommand
    .command('wechat')
    .description("enqueue the WeChat Pay bill reconciliation of one merchant and Beijing date (under the id the daily 10:00 run gives it); prints the job id and state")
    .addOption(new Option('--mchid <mchid>', 'the merchant number').makeOptionMandatory())
    .addOption(new Option('--date <YYYY-MM-DD>', 'the Beijing date of the bill, today or earlier').makeOptionMandatory())
    .option('--wait', WAIT_HELP)
    .option('--timeout <seconds>', TIMEOUT_HELP, '600')
    .addHelpText('after', `\nExamples:\n  jobhub reconcile wechat --mchid 1900000001 --date 2026-12-01\n  jobhub reconcile wechat --mchid 1900000001 --date 2026-12-01 --wait --json\n${EXIT_CODES_HELP}`)
    .action((opts: WaitOptions & { mchid: string; date: string }, cmd: Command) =>
      run(cmd, async (out) => {
        if (!MCHID.test(opts.mchid)) throw usageError(`--mchid ${JSON.stringify(opts.mchid)}: expected the merchant number (digits)`);
        const date = parseReconcileDate(opts.date);
        const waitMs = parseWait(opts);
        await withConnections(async (c) => {
          await assertKnownMerchant(c, opts.mchid);
          const target: Target = {
            id: reconcileBillJobId(opts.mchid, date),
            payload: { mchid: opts.mchid, billDate: date },
            enqueue: (enqueue) => enqueueReconcileBill(enqueue, opts.mchid, date),
          };
          await reconcile(c, out, wechatPayReconcileBill.name, [target], waitMs);
        });
      }),
    );
}

function registerApple(reconcileCommand: Command): void {
  reconcileCommand
    .command('apple')
    .description('enqueue the App Store reconciliation of one Beijing date, per environment (under the ids the daily 10:30 run gives them); prints the job ids and states')
    .addOption(new Option('--date <YYYY-MM-DD>', 'the Beijing date, today or earlier').makeOptionMandatory())
    .addOption(new Option('--environment <environment>', 'only this environment (default: every one of APPLE_ENVIRONMENTS)').choices([...APPLE_ENVIRONMENTS]))
    .option('--wait', WAIT_HELP)
    .option('--timeout <seconds>', TIMEOUT_HELP, '600')
    .addHelpText('after', `\nExamples:\n  jobhub reconcile apple --date 2026-12-01\n  jobhub reconcile apple --date 2026-12-01 --environment Production --wait --json\n${EXIT_CODES_HELP}`)
    .action((opts: WaitOptions & { date: string; environment?: AppleEnvironment }, cmd: Command) =>
      run(cmd, async (out) => {
        const date = parseReconcileDate(opts.date);
        const waitMs = parseWait(opts);
        await withConnections(async (c) => {
          const accepted = c.config.apple.environments;
          if (opts.environment !== undefined && !accepted.includes(opts.environment)) {
            throw usageError(`--environment ${opts.environment}: not in APPLE_ENVIRONMENTS (${accepted.join(', ')})`);
          }
          const environments = opts.environment !== undefined ? [opts.environment] : accepted;
          const targets = environments.map<Target>((environment) => ({
            id: appleReconcileJobId(environment, date),
            payload: { environment, date },
            enqueue: (enqueue) => enqueueAppleReconcile(enqueue, environment, date),
          }));
          await reconcile(c, out, appleReconcile.name, targets, waitMs);
        });
      }),
    );
}

export function registerReconcileCommands(program: Command): void {
  const reconcileCommand = program
    .command('reconcile')
    .description('enqueue a reconciliation now: wechat (a merchant\'s bill) or apple (the App Store\'s notification history)')
    .addHelpText('after', EXIT_CODES_HELP);
  registerWechat(reconcileCommand);
  registerApple(reconcileCommand);
}
