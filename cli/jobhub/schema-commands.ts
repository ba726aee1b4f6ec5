import type { Command } from 'commander';
import { migrate } from '../../entities/schema/migrate';
import { checkSchema, formatSchemaReport } from '../../entities/schema/schema-check';
import { createLogger } from '../../lib/logger';
import { CliError, EXIT, EXIT_CODES_HELP } from './exit';
import { run } from './run';
import { withConnections } from './runtime';

/** `npm run migrate` and `npm run schema:check` (cli/migrate.main.ts, cli/schema-check.main.ts) as commands. */
export function registerSchemaCommands(program: Command): void {
  program
    .command('migrate')
    .description("create missing databases and run the hub's pending migrations (under a server-wide lock)")
    .addHelpText('after', `\nExample:\n  jobhub migrate --json\n${EXIT_CODES_HELP}`)
    .action((_opts: unknown, cmd: Command) =>
      run(cmd, async (out) => {
        await withConnections(async (c) => {
          // Progress lines go to stderr: stdout carries the answer alone, parseable with --json.
          const log = createLogger({ level: c.config.log.level, base: { proc: 'jobhub-migrate' }, destination: process.stderr });
          let ran: string[];
          try {
            ran = await migrate(c.config, log);
          } catch (err) {
            await c.audit({ action: 'schema.migrate', outcome: 'failed', detail: { error: (err as Error).message } });
            throw err;
          }
          await c.audit({ action: 'schema.migrate', outcome: 'ok', detail: { migrations: ran } });
          out.result({ migrations: ran }, () => (ran.length === 0 ? 'no pending migration' : `ran ${ran.length} migration(s):\n${ran.map((m) => `  ${m}`).join('\n')}`));
        });
      }),
    );
  program
    .command('schema-check')
    .description('compare every entity with the tables it maps; exits 1 when anything differs')
    .addHelpText('after', `\nExample:\n  jobhub schema-check --json\n${EXIT_CODES_HELP}`)
    .action((_opts: unknown, cmd: Command) =>
      run(cmd, async (out) => {
        await withConnections(async (c) => {
          const problems = await checkSchema(await c.dataSource());
          out.result({ ok: problems.length === 0, problems }, () => formatSchemaReport(problems));
          if (problems.length > 0) throw new CliError(EXIT.failed, `${problems.length} schema problem(s)`);
        });
      }),
    );
}
