import type { Command } from 'commander';
import { MoreThanOrEqual, type FindOptionsWhere } from 'typeorm';
import { HubAudit } from '../../entities/hub/hub-audit.entity';
import { formatBeijing } from '../../lib/time';
import { EXIT_CODES_HELP } from './exit';
import { table } from './output';
import { parseIntOption, parseSince, run } from './run';
import { withConnections } from './runtime';

export function registerAuditCommand(program: Command): void {
  program
    .command('audit')
    .description('the audit trail (hub_audit): who did what, newest first')
    .option('--since <time>', 'rows at or after: ISO with a zone or Beijing time (2026-12-01 16:00)')
    .option('--who <actor>', 'rows of one person or API client')
    .option('--limit <n>', 'at most this many rows (1-10000)', '50')
    .addHelpText('after', `\nExamples:\n  jobhub audit --since '2026-12-01' --who li.lei\n  jobhub audit --limit 10 --json\n${EXIT_CODES_HELP}`)
    .action((opts: { since?: string; who?: string; limit: string }, cmd: Command) =>
      run(cmd, async (out) => {
        const limit = parseIntOption('--limit', opts.limit, 1, 10_000);
        const where: FindOptionsWhere<HubAudit> = {};
        if (opts.since !== undefined) where.occurredAt = MoreThanOrEqual(parseSince(opts.since));
        if (opts.who !== undefined) where.actor = opts.who;
        await withConnections(async (c) => {
          const rows = await (await c.dataSource()).getRepository(HubAudit).find({ where, order: { id: 'DESC' }, take: limit });
          out.result(
            rows.map((r) => ({ ...r, occurredAt: r.occurredAt.toISOString() })),
            () =>
              table(
                ['ID', 'WHEN (BEIJING)', 'WHO', 'KIND', 'ACTION', 'OUTCOME', 'ON'],
                rows.map((r) => [
                  r.id,
                  formatBeijing(r.occurredAt),
                  r.actor,
                  r.actorKind,
                  r.action,
                  r.outcome,
                  [r.queue, r.businessKey, r.jobIds?.join(',')].filter(Boolean).join(' '),
                ]),
              ),
          );
        });
      }),
    );
}
