/** The exit codes every `jobhub` command keeps, so scripts can tell them apart. */
export const EXIT = { done: 0, failed: 1, usage: 2, notFound: 3 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export const EXIT_CODES_HELP = `
Exit codes:
  0  done
  1  failed (Redis, MySQL or the action itself)
  2  usage: a bad argument, an unknown job or queue, an invalid payload
  3  not found: no such job id, user or payment`;

/** A command's end other than success: the message goes to stderr (or into the --json answer). */
export class CliError extends Error {
  constructor(
    readonly exitCode: ExitCode,
    message: string,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export const usageError = (message: string): CliError => new CliError(EXIT.usage, message);
export const notFound = (message: string): CliError => new CliError(EXIT.notFound, message);
