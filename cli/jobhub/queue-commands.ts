import type { Command } from 'commander';
import type { Job } from 'bullmq';
import { registry } from '../../jobs';
import { isQueueName, QUEUE_NAMES, type QueueName } from '../../lib/queue-names';
import { CliError, EXIT, EXIT_CODES_HELP, usageError } from './exit';
import { parseSince, run } from './run';
import { withConnections } from './runtime';

/** Failed jobs are read a page at a time: a week of them (their retention) may be many. */
const PAGE = 1_000;

function queueNamed(name: string): QueueName {
  if (!isQueueName(name)) throw usageError(`unknown queue ${JSON.stringify(name)}; queues: ${QUEUE_NAMES.join(', ')}`);
  return name;
}

function registerRetryFailed(program: Command): void {
  program
    .command('retry-failed')
    .description("retry the queue's failed jobs (all, or those failed since a time, or of one job); prints how many")
    .argument('<queue>', `one of ${QUEUE_NAMES.join(', ')}`)
    .option('--since <time>', 'only jobs failed at or after: ISO with a zone (2026-12-01T08:00:00Z) or Beijing time (2026-12-01 16:00)')
    .option('--job <name>', 'only jobs of this name')
    .addHelpText('after', `\nExamples:\n  jobhub retry-failed sms --since '2026-12-01 09:00'\n  jobhub retry-failed payments --job wechat-pay-sync-order --json\n${EXIT_CODES_HELP}`)
    .action((name: string, opts: { since?: string; job?: string }, cmd: Command) =>
      run(cmd, async (out) => {
        const queueName = queueNamed(name);
        const since = opts.since !== undefined ? parseSince(opts.since) : null;
        if (opts.job !== undefined && registry.get(opts.job)?.queue !== queueName) {
          throw usageError(`no job ${JSON.stringify(opts.job)} runs on queue ${queueName}`);
        }
        await withConnections(async (c) => {
          const queue = (await c.queues()).get(queueName);
          const matching: Job[] = [];
          for (let start = 0; ; start += PAGE) {
            const page = (await queue.getFailed(start, start + PAGE - 1)) as Job[];
            for (const job of page) {
              if (opts.job !== undefined && job.name !== opts.job) continue;
              if (since && (job.finishedOn ?? 0) < since.getTime()) continue;
              matching.push(job);
            }
            if (page.length < PAGE) break;
          }
          const retried: string[] = [];
          const errors: string[] = [];
          for (const job of matching) {
            try {
              await job.retry('failed');
              retried.push(job.id as string);
            } catch (err) {
              // Retried or removed by someone else since the page was read.
              errors.push(`${job.id}: ${(err as Error).message}`);
            }
          }
          await c.audit({
            action: 'job.retry',
            queue: queueName,
            jobIds: retried,
            outcome: errors.length === 0 ? 'ok' : 'failed',
            detail: { since: since?.toISOString() ?? null, job: opts.job ?? null, retried: retried.length, errors },
          });
          out.result({ queue: queueName, matched: matching.length, retried: retried.length, errors }, () =>
            [`retried ${retried.length} failed job(s) on ${queueName}`, ...errors.map((e) => `not retried: ${e}`)].join('\n'),
          );
          if (errors.length > 0) throw new CliError(EXIT.failed, `${errors.length} job(s) not retried`);
        });
      }),
    );
}

function registerPauseResume(program: Command, verb: 'pause' | 'resume'): void {
  program
    .command(verb)
    .description(verb === 'pause' ? 'pause a queue: workers take no new job from it (running ones finish)' : 'resume a paused queue')
    .argument('<queue>', `one of ${QUEUE_NAMES.join(', ')}`)
    .addHelpText('after', `\nExample:\n  jobhub ${verb} sms\n${EXIT_CODES_HELP}`)
    .action((name: string, _opts: unknown, cmd: Command) =>
      run(cmd, async (out) => {
        const queueName = queueNamed(name);
        await withConnections(async (c) => {
          const queue = (await c.queues()).get(queueName);
          try {
            if (verb === 'pause') await queue.pause();
            else await queue.resume();
          } catch (err) {
            await c.audit({ action: `queue.${verb}`, queue: queueName, outcome: 'failed', detail: { error: (err as Error).message } });
            throw err;
          }
          const paused = await queue.isPaused();
          await c.audit({ action: `queue.${verb}`, queue: queueName, outcome: 'ok', detail: { paused } });
          out.result({ queue: queueName, paused }, () => `${queueName}: ${paused ? 'paused' : 'running'}`);
        });
      }),
    );
}

export function registerQueueCommands(program: Command): void {
  registerRetryFailed(program);
  registerPauseResume(program, 'pause');
  registerPauseResume(program, 'resume');
}
