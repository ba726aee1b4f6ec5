import { Command, CommanderError } from 'commander';
import { registerAlertsCommand } from './jobhub/alerts-command';
import { registerAuditCommand } from './jobhub/audit-command';
import { EXIT, EXIT_CODES_HELP } from './jobhub/exit';
import { registerJobCommands } from './jobhub/jobs-commands';
import { registerQueueCommands } from './jobhub/queue-commands';
import { registerReconcileCommands } from './jobhub/reconcile-commands';
import { registerRefundCommand } from './jobhub/refund-command';
import { loadDotEnv } from './jobhub/runtime';
import { registerSchemaCommands } from './jobhub/schema-commands';
import { registerUserCommands } from './jobhub/users-commands';

/**
 * `jobhub`: the hub's operations from a shell. It reads the hub's configuration (variables, then
 * `.env`) and talks to Redis and MySQL directly, not over HTTP, so it works with the web process down.
 */
function buildProgram(): Command {
  const program = new Command('jobhub')
    .description("operate the job hub from a shell: enqueue and inspect jobs, retry, pause, reconcile, refund, manage dashboard users, read the audit trail.\nUses the hub's configuration (environment, then .env) and talks to Redis and MySQL directly.")
    .option('--json', 'print the answer as one JSON document, for scripts')
    .showHelpAfterError('(add --help for usage)')
    .addHelpText('after', EXIT_CODES_HELP);
  registerJobCommands(program);
  registerQueueCommands(program);
  registerReconcileCommands(program);
  registerRefundCommand(program);
  registerUserCommands(program);
  registerAuditCommand(program);
  registerAlertsCommand(program);
  registerSchemaCommands(program);
  // Every command, nested ones included, ends through the exit codes above rather than commander's own.
  const exitOverride = (command: Command): void => {
    command.exitOverride();
    command.commands.forEach(exitOverride);
  };
  exitOverride(program);
  return program;
}

async function main(argv: readonly string[]): Promise<number> {
  loadDotEnv();
  const program = buildProgram();
  try {
    await program.parseAsync([...argv]);
  } catch (err) {
    if (!(err instanceof CommanderError)) throw err;
    // Help or the version asked for is a success; anything else commander refuses (no command given included) is a usage error.
    return err.exitCode === 0 ? EXIT.done : EXIT.usage;
  }
  return typeof process.exitCode === 'number' ? process.exitCode : EXIT.done;
}

main(process.argv).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`jobhub: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(EXIT.failed);
  },
);
