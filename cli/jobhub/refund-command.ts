import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import { z } from 'zod';
import { auditAt } from '../../entities/dms/audit';
import { enqueueRefundSubmit, refundJobId, refundRequestFields, RefundRefusedError, requestRefund, type RefundView } from '../../jobs/wechat-pay/request-refund';
import { createLogger } from '../../lib/logger';
import { describeIssues, idempotencyKeySchema } from '../../lib/validation';
import { createEnqueue } from '../../workers/enqueue';
import { CliError, EXIT, EXIT_CODES_HELP, notFound, usageError } from './exit';
import { run } from './run';
import { cliActor, withConnections, type Connections } from './runtime';

/** A refund request's bounds (the API's too), for arguments typed at a shell. */
const refundArguments = z.strictObject({
  outTradeNo: refundRequestFields.outTradeNo,
  fen: z.string().regex(/^\d+$/, 'expected whole fen (digits)').transform(Number).pipe(refundRequestFields.amount),
  reason: refundRequestFields.reason.optional(),
  idempotencyKey: idempotencyKeySchema.optional(),
});

const TYPED_NAMES: Record<string, string> = { outTradeNo: '<outTradeNo>', fen: '<fen>', reason: '--reason', idempotencyKey: '--idempotency-key' };
/** An issue named as the command line spells it (`--idempotency-key: …`, not `idempotencyKey: …`). */
const asTyped = (issue: string): string => issue.replace(/^(\w+):/, (whole, name: string) => (TYPED_NAMES[name] ? `${TYPED_NAMES[name]}:` : whole));

/** How each refusal ends the command: an unknown payment is "not found", a malformed request a usage error. */
function refusalExit(err: RefundRefusedError): CliError {
  if (err.code === 'PAYMENT_NOT_FOUND') return notFound(err.message);
  if (err.code === 'INVALID_REFUND_REQUEST') return usageError(err.message);
  return new CliError(EXIT.failed, `refused (${err.code}): ${err.message}`);
}

/**
 * The refund's idempotency scope: the person at the shell, as an API client is for the API. The `:`
 * keeps it apart from every API client, whose names never contain one.
 */
const cliClient = (): string => `cli:${cliActor()}`;

interface RefundAnswer extends RefundView {
  /** False when this key had already requested this refund: nothing new was written. */
  created: boolean;
  idempotencyKey: string;
  /** The job that submits the refund to WeChat Pay; null when there was nothing to submit or it could not be queued. */
  submitJobId: string | null;
}

function describe(a: RefundAnswer): string {
  return [
    `refund ${a.outRefundNo} of ${a.outTradeNo}: ${a.amount} fen of ${a.total}, ${a.status}${a.created ? '' : ' (already requested with this key: nothing new)'}`,
    ...(a.failReason ? [`failed: ${a.failReason}`] : []),
    `idempotency key: ${a.idempotencyKey} (repeat with --idempotency-key ${a.idempotencyKey} to retry without a second refund)`,
  ].join('\n');
}

/** Records the refund, then queues its submission as the refund API does: the row first, so a Redis outage loses nothing. */
async function refund(
  c: Connections,
  input: { outTradeNo: string; amount: number; reason?: string; idempotencyKey: string },
): Promise<{ answer: RefundAnswer; notQueued: string | null }> {
  const now = (): Date => new Date();
  // Progress lines go to stderr: stdout carries the answer alone, parseable with --json.
  const log = createLogger({ level: c.config.log.level, base: { proc: 'jobhub-refund' }, destination: process.stderr });
  const request = { client: cliClient(), ...input };
  let outcome: Awaited<ReturnType<typeof requestRefund>>;
  try {
    outcome = await requestRefund({ db: await c.dataSource(), log, now, audit: auditAt(now) }, request);
  } catch (err) {
    const refused = err instanceof RefundRefusedError;
    await c.audit({
      action: 'refund.request',
      businessKey: input.outTradeNo,
      outcome: refused ? 'refused' : 'failed',
      detail: { ...input, ...(refused ? { code: err.code } : {}), error: (err as Error).message },
    });
    throw refused ? refusalExit(err) : err;
  }
  const { refund: view, created } = outcome;
  let submitJobId: string | null = null;
  let notQueued: string | null = null;
  // A repeat queues too: it heals a first run that could not (the job id makes it a no-op otherwise).
  if (view.status === 'REFUNDING' && view.wechatStatus === null) {
    try {
      submitJobId = (await enqueueRefundSubmit(createEnqueue(await c.queues()), view.outRefundNo)).id;
    } catch (err) {
      notQueued = (err as Error).message;
    }
  }
  const answer: RefundAnswer = { ...view, created, idempotencyKey: input.idempotencyKey, submitJobId };
  await c.audit({
    action: 'refund.request',
    queue: submitJobId ? 'refunds' : null,
    jobIds: submitJobId ? [submitJobId] : null,
    businessKey: view.outRefundNo,
    outcome: notQueued === null ? 'ok' : 'failed',
    detail: { outRefundNo: view.outRefundNo, outTradeNo: view.outTradeNo, status: view.status, amount: view.amount, created, idempotencyKey: input.idempotencyKey, ...(notQueued ? { notQueued } : {}) },
  });
  return { answer, notQueued };
}

export function registerRefundCommand(program: Command): void {
  program
    .command('refund')
    .description("request a WeChat Pay refund as the refund API does: the rules checked and the refund_order row written, then its submission queued; prints the refund")
    .argument('<outTradeNo>', "the payment's out_trade_no (payment_order, or an app order's oid)")
    .argument('<fen>', 'the amount to refund, whole fen')
    .option('--reason <text>', 'shown to the payer by WeChat (at most 80 characters)')
    .option('--idempotency-key <key>', 'the same key names the same refund: run again with it, nothing new is refunded (default: a new key, printed)')
    .addHelpText(
      'after',
      `\nExamples:\n  jobhub refund P20261201000123 500 --reason 'event cancelled' --idempotency-key ticket-4711\n  jobhub refund P20261201000123 500 --idempotency-key ticket-4711 --json   # a repeat: the same refund\n${EXIT_CODES_HELP}`,
    )
    .action((outTradeNo: string, fen: string, opts: { reason?: string; idempotencyKey?: string }, cmd: Command) =>
      run(cmd, async (out) => {
        const parsed = refundArguments.safeParse({ outTradeNo, fen, ...opts });
        if (!parsed.success) throw usageError(`invalid refund request: ${describeIssues(parsed.error).map(asTyped).join('; ')}`);
        const { fen: amount, idempotencyKey, ...rest } = parsed.data;
        await withConnections(async (c) => {
          const { answer, notQueued } = await refund(c, { ...rest, amount, idempotencyKey: idempotencyKey ?? randomUUID() });
          out.result(answer, () => describe(answer));
          if (notQueued !== null) {
            throw new CliError(
              EXIT.failed,
              `refund ${answer.outRefundNo} is recorded but job ${refundJobId(answer.outRefundNo)} that submits it was not queued (${notQueued}): the sweeper queues it later, or run the command again with --idempotency-key ${answer.idempotencyKey}`,
            );
          }
        });
      }),
    );
}
