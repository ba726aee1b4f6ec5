import type { Command } from 'commander';
import { MoreThanOrEqual, type FindOptionsWhere } from 'typeorm';
import { HubAlert } from '../../entities/hub/hub-alert.entity';
import { formatBeijing } from '../../lib/time';
import { EXIT_CODES_HELP } from './exit';
import { table } from './output';
import { parseIntOption, parseSince, run } from './run';
import { withConnections } from './runtime';

/** The job that raised an alert, as one cell: `name#id`, or `-` for the worker's own watch. */
const raisedBy = (row: HubAlert): string => (row.jobName ? `${row.jobName}#${row.jobId ?? ''}` : '-');

export function registerAlertsCommand(program: Command): void {
  program
    .command('alerts')
    .description('recent alerts (hub_alert), newest first: what was mailed to ops, and the repeats the hourly mail left out')
    .option('--since <time>', 'alerts raised at or after: ISO with a zone or Beijing time (2026-12-01 16:00)')
    .option('--kind <kind>', 'alerts of one kind (refund-failed, reconciliation-discrepancies…)')
    .option('--limit <n>', 'at most this many alerts (1-10000)', '50')
    .addHelpText('after', `\nExamples:\n  jobhub alerts --since '2026-12-01' --kind refund-failed\n  jobhub alerts --limit 10 --json\n${EXIT_CODES_HELP}`)
    .action((opts: { since?: string; kind?: string; limit: string }, cmd: Command) =>
      run(cmd, async (out) => {
        const limit = parseIntOption('--limit', opts.limit, 1, 10_000);
        const where: FindOptionsWhere<HubAlert> = {};
        if (opts.since !== undefined) where.raisedAt = MoreThanOrEqual(parseSince(opts.since));
        if (opts.kind !== undefined) where.kind = opts.kind;
        await withConnections(async (c) => {
          const rows = await (await c.dataSource()).getRepository(HubAlert).find({ where, order: { id: 'DESC' }, take: limit });
          out.result(
            rows.map(({ dedupeKey: _dedupeKey, ...r }) => ({ ...r, raisedAt: r.raisedAt.toISOString() })),
            () =>
              table(
                ['ID', 'WHEN (BEIJING)', 'KIND', 'RAISED BY', 'MESSAGE'],
                rows.map((r) => [r.id, formatBeijing(r.raisedAt), r.kind, raisedBy(r), r.message]),
              ),
          );
        });
      }),
    );
}
