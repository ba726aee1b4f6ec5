import type { Command } from 'commander';
import type { Job } from 'bullmq';
import { registry } from '../../jobs';
import type { JobDefinition } from '../../jobs/define-job';
import { SCHEDULES } from '../../jobs/schedules';
import type { EnqueueOptions } from '../../jobs/context';
import { InvalidPayloadError } from '../../lib/errors';
import { createEnqueue, jobIdSchema, prepareJob } from '../../workers/enqueue';
import { EXIT_CODES_HELP, notFound, usageError } from './exit';
import { table } from './output';
import { parseIntOption, run } from './run';
import { withConnections } from './runtime';
import { readAllStdin } from './stdin';

function jobNamed(name: string): JobDefinition {
  const def = registry.get(name);
  if (!def) throw usageError(`unknown job ${JSON.stringify(name)}; jobs: ${[...registry.keys()].join(', ')}`);
  return def;
}

async function readPayload(json: string | undefined): Promise<unknown> {
  const text = json === '-' ? await readAllStdin() : (json ?? '{}');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw usageError(`the payload is not JSON: ${text.trim().slice(0, 200)}`);
  }
}

function enqueueOptions(opts: { jobId?: string; delay?: string }): EnqueueOptions {
  return {
    ...(opts.jobId !== undefined ? { jobId: opts.jobId } : {}),
    ...(opts.delay !== undefined ? { delay: parseIntOption('--delay', opts.delay, 0, 365 * 24 * 3_600_000) } : {}),
  };
}

function registerEnqueue(program: Command): void {
  program
    .command('enqueue')
    .description("add one job, its payload checked against the job's schema first; prints the job id")
    .argument('<job>', 'a job name (see `jobhub jobs`)')
    .argument('[json]', 'the payload as JSON, or - to read it from stdin', '{}')
    .option('--job-id <id>', 'an id of your own: a second enqueue with it adds nothing')
    .option('--delay <ms>', 'run no sooner than this many milliseconds from now')
    .addHelpText(
      'after',
      `\nExamples:\n  jobhub enqueue sms-send '{"phone":"13800138000","templateKey":"login-code","params":{"code":"1234"}}'\n  echo '{"batchSize":1000}' | jobhub enqueue sms-code-cleanup - --json\n${EXIT_CODES_HELP}`,
    )
    .action((name: string, json: string, opts: { jobId?: string; delay?: string }, cmd: Command) =>
      run(cmd, async (out) => {
        const def = jobNamed(name);
        const payload = await readPayload(json);
        const options = enqueueOptions(opts);
        await withConnections(async (c) => {
          try {
            prepareJob(def, payload, options);
          } catch (err) {
            if (err instanceof InvalidPayloadError) {
              await c.audit({ action: 'job.enqueue', queue: def.queue, outcome: 'refused', detail: { job: def.name, errors: err.fieldErrors } });
              throw usageError(`invalid payload for ${def.name}: ${err.message}`);
            }
            throw usageError((err as Error).message);
          }
          try {
            const job = await createEnqueue(await c.queues())(def, payload as never, options);
            await c.audit({ action: 'job.enqueue', queue: job.queue, jobIds: [job.id], outcome: 'ok', detail: { job: job.name } });
            out.result(job, () => job.id);
          } catch (err) {
            await c.audit({ action: 'job.enqueue', queue: def.queue, outcome: 'failed', detail: { job: def.name, error: (err as Error).message } });
            throw err;
          }
        });
      }),
    );
}

export interface JobStatus {
  job: string;
  id: string;
  queue: string;
  state: string;
  attemptsMade: number;
  attempts: number | null;
  progress: unknown;
  failedReason: string | null;
  createdAt: string | null;
  processedAt: string | null;
  finishedAt: string | null;
}

const iso = (ms: number | undefined): string | null => (ms ? new Date(ms).toISOString() : null);

function registerStatus(program: Command): void {
  program
    .command('status')
    .description('one job: state, attempts, progress and why it failed')
    .argument('<job>', 'the job name')
    .argument('<id>', 'the job id `enqueue` printed')
    .addHelpText('after', `\nExample:\n  jobhub status sms-send 42 --json\n${EXIT_CODES_HELP}`)
    .action((name: string, id: string, _opts: unknown, cmd: Command) =>
      run(cmd, async (out) => {
        const def = jobNamed(name);
        if (!jobIdSchema.safeParse(id).success) throw usageError(`${JSON.stringify(id)} is not a job id`);
        await withConnections(async (c) => {
          const job = (await (await c.queues()).get(def.queue).getJob(id)) as Job | undefined;
          if (!job || job.name !== def.name) throw notFound(`no ${def.name} job ${id} on queue ${def.queue}`);
          const state = await job.getState();
          const status: JobStatus = {
            job: def.name,
            id,
            queue: def.queue,
            state,
            attemptsMade: job.attemptsMade,
            attempts: job.opts.attempts ?? null,
            progress: job.progress,
            failedReason: job.failedReason || null,
            createdAt: iso(job.timestamp),
            processedAt: iso(job.processedOn),
            finishedAt: iso(job.finishedOn),
          };
          out.result(status, () =>
            [
              `${def.name} ${id} on ${def.queue}: ${state}`,
              `attempts: ${status.attemptsMade}${status.attempts !== null ? ` of ${status.attempts}` : ''}`,
              `progress: ${JSON.stringify(status.progress)}`,
              ...(status.failedReason ? [`failed: ${status.failedReason}`] : []),
            ].join('\n'),
          );
        });
      }),
    );
}

function registerCatalogue(program: Command): void {
  program
    .command('jobs')
    .description('the catalogue: every job with its queue, description and schedule (Beijing time)')
    .addHelpText('after', `\nExample:\n  jobhub jobs --json\n${EXIT_CODES_HELP}`)
    .action((_opts: unknown, cmd: Command) =>
      run(cmd, async (out) => {
        const rows = [...registry.values()].map((def) => ({
          name: def.name,
          queue: def.queue,
          description: def.description,
          schedule: SCHEDULES.find((s) => s.job.name === def.name)?.cron ?? null,
        }));
        out.result(rows, () => table(['NAME', 'QUEUE', 'SCHEDULE', 'DESCRIPTION'], rows.map((r) => [r.name, r.queue, r.schedule ?? '-', r.description])));
      }),
    );
}

export function registerJobCommands(program: Command): void {
  registerEnqueue(program);
  registerStatus(program);
  registerCatalogue(program);
}
